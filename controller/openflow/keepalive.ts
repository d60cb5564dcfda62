/**
 * Echo keepalive of one session. Anything received counts as a sign of life; after `intervalMs`
 * of silence we send an ECHO_REQUEST (at most one per interval), and after 2.5 intervals of silence
 * the switch is dead. Checks run every half interval, so a switch that went silent is noticed at
 * most 3 intervals after the last thing it sent.
 */
export class Keepalive {
  readonly #intervalMs: number;
  readonly #sendEcho: () => void;
  readonly #onDead: (silentMs: number) => void;
  readonly #now: () => number;
  #lastHeard: number;
  #lastEcho = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: {
    intervalMs: number;
    sendEcho: () => void;
    onDead: (silentMs: number) => void;
    now?: () => number;
  }) {
    this.#intervalMs = options.intervalMs;
    this.#sendEcho = options.sendEcho;
    this.#onDead = options.onDead;
    this.#now = options.now ?? (() => performance.now());
    this.#lastHeard = this.#now();
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.check(), this.#intervalMs / 2);
    // A session must not keep the process alive on its own.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Something arrived from the switch. */
  heard(): void {
    this.#lastHeard = this.#now();
  }

  /** One check (the timer calls it; tests may too). */
  check(): void {
    const now = this.#now();
    const silent = now - this.#lastHeard;
    if (silent >= 2.5 * this.#intervalMs) {
      this.stop();
      this.#onDead(silent);
      return;
    }
    if (silent >= this.#intervalMs && now - this.#lastEcho >= this.#intervalMs) {
      this.#lastEcho = now;
      this.#sendEcho();
    }
  }
}
