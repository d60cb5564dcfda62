/**
 * Polls `probe` until it returns a value, with exponential backoff (capped) and a deadline.
 * `probe` returns undefined to keep waiting and throws to stop.
 *
 * By default asked after 0.2, 0.4, 0.8 s, then every second: a cloud answers a status read in
 * milliseconds, and the former ceiling of 5 s could see a snapshot, a boot or a delete up to 5 s
 * late, each (a migration's snapshot, boot and release all wait this way).
 */
const DEFAULT_MAX_DELAY_MS = 1000;

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
    delay = Math.min(delay * 2, options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
  }
}
