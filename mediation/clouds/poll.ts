/**
 * Polls `probe` until it returns a value, with exponential backoff (capped) and a deadline.
 * `probe` returns undefined to keep waiting and throws to stop.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: {
    deadlineMs: number;
    what: string;
    firstDelayMs?: number;
    maxDelayMs?: number;
    onTimeout: (what: string) => Error;
    /** Stops the wait (a cancel) with the signal's reason. */
    signal?: AbortSignal;
  },
): Promise<T> {
  const end = Date.now() + options.deadlineMs;
  let delay = options.firstDelayMs ?? 200;
  for (;;) {
    options.signal?.throwIfAborted();
    const v = await probe();
    if (v !== undefined) return v;
    const left = end - Date.now();
    if (left <= 0) throw options.onTimeout(options.what);
    await new Promise((r) => setTimeout(r, Math.min(delay, left)));
    delay = Math.min(delay * 2, options.maxDelayMs ?? 5000);
  }
}
