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

interface Deadline {
  readonly xids: readonly number[];
  readonly at: number;
  readonly what: string;
  readonly timeoutMs: number;
  readonly timer: unknown;
}

/**
 * Request/response correlation by xid, per session. Each request owns one or more xids (a batch
 * owns its bundle's and its barrier's) and has a deadline. Bounded: at most `maxXids` xids in
 * flight, beyond which a new request is refused (OVERLOAD) before anything is sent.
 */
export class RequestTracker {
  readonly #byXid = new Map<number, Pending>();
  readonly #pending = new Map<Pending, Deadline>();
  readonly #maxXids: number;
  readonly #timers: Timers | undefined;

  constructor(options: { maxXids: number; timers?: Timers }) {
    this.#maxXids = options.maxXids;
    this.#timers = options.timers;
  }

  /** Registers `p` under `xids` until it completes or `timeoutMs` passes. Throws OVERLOAD when full. */
  add(p: Pending, xids: readonly number[], timeoutMs: number, what: string): void {
    if (this.#byXid.size + xids.length > this.#maxXids) {
      throw new SwitchRequestError(
        "OVERLOAD",
        `${what}: ${this.#byXid.size} xids already in flight on this session (limit ${this.#maxXids})`,
      );
    }
    for (const xid of xids) this.#byXid.set(xid, p);
    const timer = this.#timers?.set(() => this.#timeout(p), timeoutMs);
    this.#pending.set(p, { xids, at: performance.now() + timeoutMs, what, timeoutMs, timer });
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
    const p = this.#byXid.get(m.xid);
    if (!p) return false;
    const done = m.type === "ERROR" ? p.onError(m) : p.onReply(m);
    if (done) this.#finish(p);
    return true;
  }

  /** Times out what is past its deadline; false once nothing is pending (the sweep forgets it). */
  expire(now: number): boolean {
    for (const [p, d] of this.#pending) if (d.at <= now) this.#timeout(p);
    return this.#pending.size > 0;
  }

  /** Ends every request (the session is gone). */
  abortAll(err: SwitchRequestError): void {
    for (const p of [...this.#pending.keys()]) {
      this.#finish(p);
      p.abort(err);
    }
  }

  /** Xids in flight. */
  get size(): number {
    return this.#byXid.size;
  }

  #timeout(p: Pending): void {
    const d = this.#pending.get(p);
    if (!d) return;
    this.#finish(p);
    p.abort(new SwitchRequestError("TIMEOUT", `${d.what}: no answer within ${d.timeoutMs} ms`));
  }

  #finish(p: Pending): void {
    const d = this.#pending.get(p);
    if (!d) return;
    if (d.timer !== undefined) this.#timers?.clear(d.timer);
    this.#pending.delete(p);
    for (const xid of d.xids) if (this.#byXid.get(xid) === p) this.#byXid.delete(xid);
  }
}
