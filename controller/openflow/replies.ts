import type { ErrorMsg, FlowStats, OfpMessage } from "../../proto/index.ts";
import { errorInfo, SwitchRequestError } from "./errors.ts";
import type { Pending } from "./request-tracker.ts";

// The requests a session makes, each answering the tracker (request-tracker.ts) for its own xids.

/** A promise with its settle functions, for Pending implementations. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function openflowError(what: string, m: ErrorMsg): SwitchRequestError {
  const info = errorInfo(m);
  return new SwitchRequestError("OPENFLOW", `${what}: ${info.message}`, info);
}

/** One request, one reply of a known type (FEATURES_REQUEST, BARRIER_REQUEST, ECHO_REQUEST). */
export class SingleReply<T extends OfpMessage["type"]> implements Pending {
  readonly #d = deferred<Extract<OfpMessage, { type: T }>>();
  readonly #type: T;
  readonly #what: string;
  constructor(type: T, what: string) {
    this.#type = type;
    this.#what = what;
  }
  get promise(): Promise<Extract<OfpMessage, { type: T }>> {
    return this.#d.promise;
  }
  onReply(m: OfpMessage): boolean {
    if (m.type !== this.#type) return false;
    this.#d.resolve(m as Extract<OfpMessage, { type: T }>);
    return true;
  }
  onError(m: ErrorMsg): boolean {
    this.#d.reject(openflowError(this.#what, m));
    return true;
  }
  abort(err: SwitchRequestError): void {
    this.#d.reject(err);
  }
}

/** OFPMPF_REPLY_MORE: more parts follow with the same xid. */
const REPLY_MORE = 1;

/**
 * A FLOW stats request: parts are gathered until one comes without the MORE flag. Bounded by
 * `maxEntries`: a switch sending more is refused (OVERLOAD), and its later parts are dropped as late.
 */
export class FlowStatsReply implements Pending {
  readonly #d = deferred<FlowStats[]>();
  readonly #stats: FlowStats[] = [];
  readonly #maxEntries: number;
  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }
  get promise(): Promise<FlowStats[]> {
    return this.#d.promise;
  }
  onReply(m: OfpMessage): boolean {
    if (m.type !== "MULTIPART_REPLY" || m.body.kind !== "FLOW") return false;
    for (const s of m.body.stats) this.#stats.push(s);
    if (this.#stats.length > this.#maxEntries) {
      this.#d.reject(
        new SwitchRequestError("OVERLOAD", `flow stats: more than ${this.#maxEntries} entries; not read`),
      );
      return true;
    }
    if ((m.flags & REPLY_MORE) !== 0) return false;
    this.#d.resolve(this.#stats);
    return true;
  }
  onError(m: ErrorMsg): boolean {
    this.#d.reject(openflowError("flow stats", m));
    return true;
  }
  abort(err: SwitchRequestError): void {
    this.#d.reject(err);
  }
}

/**
 * A batch: bundle OPEN, one ADD_MESSAGE per FLOW_MOD, COMMIT, then a BARRIER, all sent at once.
 * Confirmed by the COMMIT reply and the barrier reply. An ERROR for any of its xids (the open,
 * a bundled FLOW_MOD, the commit) fails it, but only once the barrier reply shows the switch is
 * done with all of them: every error of the batch then belongs to it, none arrives later unowned.
 */
export class BatchReply implements Pending {
  readonly #d = deferred<void>();
  readonly #commitXid: number;
  readonly #barrierXid: number;
  #committed = false;
  #firstError: ErrorMsg | undefined;
  /** Errors beyond the first, kept for the log (the metric counts them all anyway). */
  extraErrors = 0;
  constructor(commitXid: number, barrierXid: number) {
    this.#commitXid = commitXid;
    this.#barrierXid = barrierXid;
  }
  get promise(): Promise<void> {
    return this.#d.promise;
  }
  onReply(m: OfpMessage): boolean {
    if (m.type === "BUNDLE_CONTROL" && m.xid === this.#commitXid && m.ctrlType === "COMMIT_REPLY") {
      this.#committed = true;
      return false;
    }
    if (m.type !== "BARRIER_REPLY" || m.xid !== this.#barrierXid) return false;
    if (this.#firstError) this.#d.reject(openflowError("batch", this.#firstError));
    else if (!this.#committed) {
      this.#d.reject(new SwitchRequestError("OPENFLOW", "batch: barrier reply without a commit reply"));
    } else this.#d.resolve();
    return true;
  }
  onError(m: ErrorMsg): boolean {
    if (this.#firstError) this.extraErrors++;
    else this.#firstError = m;
    if (m.xid === this.#barrierXid) {
      this.#d.reject(openflowError("batch barrier", m));
      return true;
    }
    return false;
  }
  abort(err: SwitchRequestError): void {
    this.#d.reject(err);
  }
}
