export interface RetryPolicyOptions {
  /** Delay before the first retry. */
  readonly firstDelayMs: number;
  /** Each retry waits this many times longer than the one before. */
  readonly factor: number;
  /** Retries after the first attempt; then the policy gives up. */
  readonly maxRetries: number;
  /** Spread, as a fraction of the delay (0.2: 80% to 120%), so failures at one moment do not retry in step. */
  readonly jitter: number;
}

/** When to try a failed task again: exponential backoff with jitter, up to a limit (pure). */
export class RetryPolicy {
  readonly options: RetryPolicyOptions;

  constructor(options: RetryPolicyOptions) {
    const { firstDelayMs, factor, maxRetries, jitter } = options;
    if (!(firstDelayMs >= 0 && factor >= 1 && Number.isInteger(maxRetries) && maxRetries >= 0))
      throw new RangeError("RetryPolicy: firstDelayMs >= 0, factor >= 1 and an integer maxRetries >= 0");
    if (!(jitter >= 0 && jitter < 1)) throw new RangeError("RetryPolicy: jitter must be in [0, 1)");
    this.options = options;
  }

  /**
   * Milliseconds to wait before retry number `retry` (0: the first retry), or null when the policy
   * gives up. `random` is in [0, 1) (Math.random by default): 0.5 gives the delay without jitter.
   */
  delayMs(retry: number, random: number = Math.random()): number | null {
    const { firstDelayMs, factor, maxRetries, jitter } = this.options;
    if (retry >= maxRetries) return null;
    return firstDelayMs * factor ** retry * (1 + jitter * (2 * random - 1));
  }
}

/**
 * A switch whose reconcile failed: 5 retries, 0.5 s, 1 s, 2 s... apart. No jitter: switches that
 * failed together retry together, and the reconciler does them in one locked round of the cluster.
 */
export const RECONCILE_RETRY = new RetryPolicy({ firstDelayMs: 500, factor: 2, maxRetries: 5, jitter: 0 });
