/**
 * A token bucket shared by every transfer of one cluster migration: `reserve(n)` takes n bytes'
 * worth of tokens at once (going into debt if need be) and says how long the caller must wait
 * before sending them. Reservations queue in call order, so concurrent streams share the rate
 * fairly and together never exceed it beyond one burst. Pure: time is passed in.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  /** `rate` bytes per second; `burst` the most that may pass at once after an idle period. */
  constructor(rate: number, burst: number, nowMs: number) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError("a token bucket needs a positive rate and burst");
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = nowMs;
  }

  get burst(): number {
    return this.#burst;
  }

  /** Milliseconds to wait before `n` bytes may be sent (0: at once). */
  reserve(n: number, nowMs: number): number {
    if (nowMs > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((nowMs - this.#at) * this.#rate) / 1000);
      this.#at = nowMs;
    }
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.#rate;
  }
}

/** Megabits per second (the API's unit) in bytes per second. */
export const mbpsToBytesPerSecond = (mbps: number): number => (mbps * 1e6) / 8;
