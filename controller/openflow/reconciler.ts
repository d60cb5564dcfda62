import { isEmptyDiff } from "../compiler/diff.ts";
import type { RulePlanner } from "../compiler/rule-planner.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
import type { OfLog } from "./log.ts";
import type { Retries } from "./retries.ts";
import type { SwitchSession } from "./session.ts";

export type ReconcileResult =
  | { readonly status: "not-a-member" }
  | { readonly status: "closed" }
  | { readonly status: "in-sync"; readonly rules: number }
  | { readonly status: "updated"; readonly added: number; readonly deleted: number; readonly ms: number };

/**
 * Switches of one round reconciled at once. Each holds its flow dump, its desired list and its
 * difference while it runs: at 5,000 members about 20,000 rules each, 10 MB of decoded dump alone,
 * so a thousand switches reconnecting together (a controller restart) must not all run at once.
 */
export const RECONCILE_CONCURRENCY = 32;

/** What the switch side reads of the desired state: the store, read-only. */
export type ClusterReader = Pick<ClusterStore, "memberByDpid" | "clusterState">;

export interface ReconcilerDeps {
  readonly clusters: ClusterReader;
  readonly planner: RulePlanner;
  /** Each cluster's lock, shared with the cluster service: a reconcile never races a rebind. */
  readonly locks: { cluster<T>(clusterId: string, fn: () => Promise<T>): Promise<T> };
  /** When a failed reconcile is tried again. */
  readonly retries: Retries;
  readonly log: OfLog;
  /** Told about every attempt's result (success or error). */
  readonly reported?: (session: SwitchSession, result: ReconcileResult | Error) => void;
}

/**
 * Brings switches to what the store says they should hold: read a switch's flow entries (ours
 * only, by cookie mark), diff them with what the planner says it should hold, send only the
 * difference as one batch. Runs under the cluster's lock, so it sees a state no rebind is halfway
 * through. A switch that already holds its rules gets nothing at all: a controller restart
 * changes no flow entry. Entries without our mark are never read, so never deleted.
 *
 * Switches of one cluster that ask while a reconcile of that cluster waits for (or holds) the
 * lock are done together, RECONCILE_CONCURRENCY at a time, in the next locked round: after a
 * controller restart a thousand switches reconnect at once, and one at a time they would each
 * wait for the others.
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;
  /** Per cluster: switches waiting for the next round, with their callers. */
  readonly #queues = new Map<string, Waiting[]>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  /**
   * Reconciles `session` now and, while it fails and the session is up, again as the retry policy
   * says (a connecting switch, or one whose batch failed).
   */
  resync(session: SwitchSession, retry = 0): void {
    const { log, reported, retries } = this.#deps;
    this.reconcile(session).then(
      (result) => reported?.(session, result),
      (err: Error) => {
        reported?.(session, err);
        if (!session.isReady || retries.closed) return;
        const inMs = retries.schedule(retry, () => this.resync(session, retry + 1));
        if (inMs === null)
          log.error("giving up reconciling switch", { switch: session.label, error: err.message });
        else log.warn("reconcile failed; retrying", { switch: session.label, error: err.message, inMs });
      },
    );
  }

  /** One attempt; rejects with SwitchRequestError when the switch fails or times out. */
  reconcile(session: SwitchSession): Promise<ReconcileResult> {
    const dpid = session.dpid;
    const member = dpid === undefined ? undefined : this.#deps.clusters.memberByDpid(dpid);
    if (!member) {
      this.#deps.log.info("switch is no member: connected, given no rules", { switch: session.label });
      return Promise.resolve({ status: "not-a-member" });
    }
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(member.clusterId);
      if (queue) {
        queue.push({ session, resolve, reject });
        return;
      }
      this.#queues.set(member.clusterId, [{ session, resolve, reject }]);
      void this.#deps.locks.cluster(member.clusterId, () => this.#round(member.clusterId));
    });
  }

  /** One locked round: every switch queued for the cluster until now, against one read of its state. */
  async #round(clusterId: string): Promise<void> {
    const waiting = this.#queues.get(clusterId) ?? [];
    this.#queues.delete(clusterId);
    let state: ClusterState | undefined;
    try {
      state = this.#deps.clusters.clusterState(clusterId);
    } catch (err) {
      for (const w of waiting) w.reject(err as Error);
      return;
    }
    let next = 0;
    const worker = async () => {
      while (next < waiting.length) {
        const w = waiting[next++]!;
        await this.#one(w.session, state).then(w.resolve, (err: unknown) =>
          w.reject(err instanceof Error ? err : new Error(String(err))),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, waiting.length) }, worker));
  }

  async #one(session: SwitchSession, state: ClusterState | undefined): Promise<ReconcileResult> {
    const { planner, log } = this.#deps;
    if (session.isClosed) return { status: "closed" };
    // The member may have moved or gone while we waited for the lock.
    const self = state?.members.find((m) => m.dpid === session.dpid);
    if (!state || !self) return { status: "not-a-member" };
    const { desired, diff } = planner.reconcile(state, self.vmId, await session.dumpOurRules());
    if (isEmptyDiff(diff)) {
      session.holdsExactly(desired);
      log.info("switch in sync", { switch: session.label, vmId: self.vmId, rules: desired.length });
      return { status: "in-sync", rules: desired.length };
    }
    const { ms } = await session.applyBatch(diff);
    // The dump plus the confirmed diff: exactly `desired` (every other rule of ours was deleted).
    session.holdsExactly(desired);
    log.info("switch reconciled", {
      switch: session.label,
      vmId: self.vmId,
      added: diff.add.length,
      deleted: diff.delete.length,
      ms,
    });
    return { status: "updated", added: diff.add.length, deleted: diff.delete.length, ms };
  }
}

interface Waiting {
  readonly session: SwitchSession;
  readonly resolve: (r: ReconcileResult) => void;
  readonly reject: (e: Error) => void;
}
