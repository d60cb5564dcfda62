import type { ErrorMsg, OfpMessage } from "../../proto/index.ts";
import { SwitchRequestError } from "./errors.ts";

/** One request in flight, as the tracker drives it. Its xids route replies and errors to it. */
export interface Pending {
  /** A message (not an ERROR) with one of the request's xids; true when the request is complete. */
  onReply(m: OfpMessage): boolean;
  /** An ERROR with one of its xids; true when the request is complete. */
  onError(m: ErrorMsg): boolean;
  /** Ends it unanswered (timeout, disconnect). */
  abort(err: SwitchRequestError): void;
}

/** Per-request timers, for tests that fire them by hand. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/**
 * Without custom timers, deadlines are checked by one shared sweep every SWEEP_MS for every
 * session: timeouts are seconds long, and a timer per request would cost a thousand timer
 * insertions and removals per rebind phase of a 1,000-member cluster.
 */
const SWEEP_MS = 100;
const sweeping = new Set<RequestTracker>();
let sweeper: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  const now = performance.now();
  for (const t of sweeping) if (!t.expire(now)) sweeping.delete(t);
  if (sweeping.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** A request in flight: its xids (consecutive: `first` to `first + count - 1`) and deadline. */
interface InFlight {
  readonly p: Pending;
  readonly first: number;
  readonly count: number;
  readonly at: number;
  readonly what: string;
  readonly timeoutMs: number;
  readonly timer: unknown;
}

/**
 * Request/response correlation by xid, per session. Each request owns a run of consecutive xids
 * (a batch owns its bundle's and its barrier's) and has a deadline. Bounded: at most `maxXids`
 * xids in flight, beyond which a new request is refused (OVERLOAD) before anything is sent.
 *
 * Requests are kept as xid ranges in a small array, not one map entry per xid: a switch has a few
 * requests in flight (a batch, a flow dump, an echo), and at 5,000 switches a map entry added and
 * removed per xid of every batch was about a tenth of what a rebind allocated (heap sampling).
 */
export class RequestTracker {
  readonly #inFlight: InFlight[] = [];
  #xids = 0;
  readonly #maxXids: number;
  readonly #timers: Timers | undefined;

  constructor(options: { maxXids: number; timers?: Timers }) {
    this.#maxXids = options.maxXids;
    this.#timers = options.timers;
  }

  /**
   * Registers `p` under the `count` xids from `first` (none of them another request's) until it
   * completes or `timeoutMs` passes. Throws OVERLOAD when full.
   */
  add(p: Pending, first: number, count: number, timeoutMs: number, what: string): void {
    if (this.#xids + count > this.#maxXids) {
      throw new SwitchRequestError(
        "OVERLOAD",
        `${what}: ${this.#xids} xids already in flight on this session (limit ${this.#maxXids})`,
      );
    }
    this.#xids += count;
    const timer = this.#timers?.set(() => this.#timeout(p), timeoutMs);
    this.#inFlight.push({ p, first, count, at: performance.now() + timeoutMs, what, timeoutMs, timer });
    if (!this.#timers) {
      sweeping.add(this);
      if (!sweeper) {
        sweeper = setInterval(sweep, SWEEP_MS);
        // Pending requests alone must not keep the process alive.
        sweeper.unref();
      }
    }
  }

  /** Hands `m` to the request owning its xid; false when none does (unsolicited, or late). */
  route(m: OfpMessage): boolean {
    const i = this.#indexOfXid(m.xid);
    if (i < 0) return false;
    const p = this.#inFlight[i]!.p;
    const done = m.type === "ERROR" ? p.onError(m) : p.onReply(m);
    if (done) this.#finish(p);
    return true;
  }

  /** Times out what is past its deadline; false once nothing is pending (the sweep forgets it). */
  expire(now: number): boolean {
    // Backwards: a request that times out is removed by moving the last one into its place.
    for (let i = this.#inFlight.length - 1; i >= 0; i--) {
      const r = this.#inFlight[i];
      if (r && r.at <= now) this.#timeout(r.p);
    }
    return this.#inFlight.length > 0;
  }

  /** Ends every request (the session is gone). */
  abortAll(err: SwitchRequestError): void {
    for (const { p, timer } of this.#inFlight.splice(0)) {
      if (timer !== undefined) this.#timers?.clear(timer);
      p.abort(err);
    }
    this.#xids = 0;
  }

  /** Xids in flight. */
  get size(): number {
    return this.#xids;
  }

  #indexOfXid(xid: number): number {
    const inFlight = this.#inFlight;
    for (let i = 0; i < inFlight.length; i++) {
      const r = inFlight[i]!;
      if ((xid - r.first) >>> 0 < r.count) return i;
    }
    return -1;
  }

  #indexOf(p: Pending): number {
    const inFlight = this.#inFlight;
    for (let i = 0; i < inFlight.length; i++) if (inFlight[i]!.p === p) return i;
    return -1;
  }

  #timeout(p: Pending): void {
    const i = this.#indexOf(p);
    if (i < 0) return;
    const r = this.#inFlight[i]!;
    this.#finish(p);
    p.abort(new SwitchRequestError("TIMEOUT", `${r.what}: no answer within ${r.timeoutMs} ms`));
  }

  #finish(p: Pending): void {
    const i = this.#indexOf(p);
    if (i < 0) return;
    const inFlight = this.#inFlight;
    const r = inFlight[i]!;
    if (r.timer !== undefined) this.#timers?.clear(r.timer);
    this.#xids -= r.count;
    // Order does not matter (xid ranges do not overlap): the last one takes its place.
    const last = inFlight.pop()!;
    if (i < inFlight.length) inFlight[i] = last;
  }
}
