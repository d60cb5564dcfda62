import type { RetryPolicy } from "./retry-policy.ts";

/** Retries scheduled by one policy, all cancelled at once when their owner closes. */
export class Retries {
  readonly #policy: RetryPolicy;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(policy: RetryPolicy) {
    this.#policy = policy;
  }

  /**
   * Runs `again` once retry number `retry` is due; returns the delay, or null when the policy
   * gives up (or the owner closed) and nothing was scheduled.
   */
  schedule(retry: number, again: () => void): number | null {
    const delay = this.#closed ? null : this.#policy.delayMs(retry);
    if (delay === null) return null;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      again();
    }, delay);
    this.#timers.add(timer);
    return delay;
  }

  /** Cancelled: nothing more will be scheduled. */
  get closed(): boolean {
    return this.#closed;
  }

  cancelAll(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
