import { type FlowStats, type FlowStatsFilter, OFPG, OFPP, OFPTT } from "../../proto/index.ts";
import { COOKIE_MARK, OURS_COOKIE_MASK } from "../compiler/cookie.ts";
import { diffRules, isEmptyDiff } from "../compiler/diff.ts";
import { type CompileOptions, compileSwitch } from "../compiler/flow-compiler.ts";
import type { Rule } from "../compiler/rule.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
import { HeldRules } from "./held-rules.ts";
import type { OfLog } from "./log.ts";
import type { SwitchSession } from "./session.ts";

/** Every flow entry carrying the icsdn mark, in every table: ours, whatever cluster they were for. */
export const OUR_FLOWS: FlowStatsFilter = {
  tableId: OFPTT.ALL,
  outPort: OFPP.ANY,
  outGroup: OFPG.ANY,
  cookie: COOKIE_MARK << 56n,
  cookieMask: OURS_COOKIE_MASK,
  match: [],
};

export function ruleOf(s: FlowStats): Rule {
  return {
    tableId: s.tableId,
    priority: s.priority,
    cookie: s.cookie,
    match: s.match,
    instructions: s.instructions,
  };
}

export type ReconcileResult =
  | { readonly status: "not-a-member" }
  | { readonly status: "closed" }
  | { readonly status: "in-sync"; readonly rules: number }
  | { readonly status: "updated"; readonly added: number; readonly deleted: number; readonly ms: number };

export interface ReconcilerDeps {
  readonly store: ClusterStore;
  readonly withClusterLock: <T>(clusterId: string, fn: () => Promise<T>) => Promise<T>;
  readonly compile: CompileOptions;
  readonly log: OfLog;
}

/**
 * Brings switches to what the store says they should hold: read a switch's flow entries (ours
 * only, by cookie mark), diff them with its compiled rules, send only the difference as one
 * batch. Runs under the cluster's lock, so it sees a state no rebind is halfway through. A
 * switch that already holds its rules gets nothing at all: a controller restart changes no flow
 * entry. Entries without our mark are never read, so never deleted.
 *
 * Switches of one cluster that ask while a reconcile of that cluster waits for (or holds) the
 * lock are done together, in parallel, in the next locked round: after a controller restart a
 * thousand switches reconnect at once, and one at a time they would each wait for the others.
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;
  /** Per cluster: switches waiting for the next round, with their callers. */
  readonly #queues = new Map<string, Waiting[]>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  /** Rejects with SwitchRequestError when the switch fails or times out. */
  reconcile(session: SwitchSession): Promise<ReconcileResult> {
    const dpid = session.dpid;
    const member = dpid === undefined ? undefined : this.#deps.store.memberByDpid(dpid);
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
      void this.#deps.withClusterLock(member.clusterId, () => this.#round(member.clusterId));
    });
  }

  /** One locked round: every switch queued for the cluster until now, against one read of its state. */
  async #round(clusterId: string): Promise<void> {
    const waiting = this.#queues.get(clusterId) ?? [];
    this.#queues.delete(clusterId);
    let state: ClusterState | undefined;
    try {
      state = this.#deps.store.clusterState(clusterId);
    } catch (err) {
      for (const w of waiting) w.reject(err as Error);
      return;
    }
    await Promise.all(
      waiting.map((w) =>
        this.#one(w.session, state).then(w.resolve, (err: unknown) =>
          w.reject(err instanceof Error ? err : new Error(String(err))),
        ),
      ),
    );
  }

  async #one(session: SwitchSession, state: ClusterState | undefined): Promise<ReconcileResult> {
    const { compile, log } = this.#deps;
    if (session.isClosed) return { status: "closed" };
    // The member may have moved or gone while we waited for the lock.
    const self = state?.members.find((m) => m.dpid === session.dpid);
    if (!state || !self) return { status: "not-a-member" };
    const desired = compileSwitch(state, self.vmId, compile);
    // Unknown until the dump (and the batch, if any) succeeds: a failure below leaves it so.
    session.heldRules = null;
    const current = (await session.flowStats(OUR_FLOWS)).map(ruleOf);
    const diff = diffRules(current, desired);
    if (isEmptyDiff(diff)) {
      session.ruleCount = desired.length;
      session.heldRules = new HeldRules(desired);
      log.info("switch in sync", { switch: session.label, vmId: self.vmId, rules: desired.length });
      return { status: "in-sync", rules: desired.length };
    }
    const ms = await session.applyBatch(diff);
    session.ruleCount = desired.length;
    // The dump plus the confirmed diff: exactly `desired` (every other rule of ours was deleted).
    session.heldRules = new HeldRules(desired);
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
