import type {
  BatchRebindEntry,
  BatchRebindReport,
  ClusterPatch,
  MemberPatch,
  PhaseReport,
  RebindReport,
} from "../../contract/controller-api/index.ts";
import type { Ipv4 } from "../../contract/dataplane/index.ts";
import type { RulePlanner } from "../compiler/rule-planner.ts";
import {
  type MemberMove,
  rebindBatchState,
  type TransitionPhase,
  type TransitionPlan,
} from "../compiler/transition-planner.ts";
import { ControllerError } from "../errors.ts";
import type { DowntimeReport, RebindWatch, SwitchFabric } from "../fabric/switch-fabric.ts";
import type { ControllerMetrics } from "../metrics/controller-metrics.ts";
import type { Cluster } from "../model/cluster.ts";
import {
  type ClusterState,
  checkAddedMember,
  checkMemberConflicts,
  findMember,
} from "../model/cluster-state.ts";
import { type Member, type MemberInput, memberOf } from "../model/member.ts";
import {
  type ClusterCreateInput,
  type LinkingReportInput,
  MAX_CLUSTER_MEMBERS,
  type RebindInput,
} from "../model/requests.ts";
import type { ClusterStore } from "../store/cluster-store.ts";
import type { LinkingRecord, RebindRecord } from "../store/records.ts";
import type { ClusterLocks } from "./cluster-locks.ts";
import { runPlan } from "./plan-runner.ts";
import { listSwitches, type SwitchEntry, type SwitchFilter } from "./switch-inventory.ts";

export interface ClusterServiceDeps {
  readonly store: ClusterStore;
  readonly fabric: SwitchFabric;
  readonly metrics: ControllerMetrics;
  /** Milliseconds, monotonic. */
  readonly clock?: () => number;
  /** Shared with the switch side, which reconciles under the same per-cluster lock. */
  readonly locks: ClusterLocks;
  /** What each switch should hold; the switch side reconciles with the same planner. */
  readonly planner: RulePlanner;
}

/**
 * The cluster use cases. Every change to a cluster is: validate (a refusal changes nothing) ->
 * plan make-before-break -> push to the switches -> commit to the store, under that cluster's
 * lock. Why per cluster: a plan is computed from the stored state, and two changes in one cluster
 * touch the same peer switches (a moved member's fresh switch gets the whole rule set, which
 * would otherwise carry a peer's endpoint from before a concurrent rebind of that peer).
 * Clusters share no switch (the dpid holds the VNI), so different clusters run in parallel.
 *
 * Commit after push: the stored endpoint is the one every switch confirmed. If a switch fails,
 * nothing is committed and later phases are not sent; retrying the same request redoes the
 * whole plan (each ADD is idempotent), and a reconnecting switch is reconciled to the store.
 */
export class ClusterService {
  readonly #store: ClusterStore;
  readonly #fabric: SwitchFabric;
  readonly #metrics: ControllerMetrics;
  readonly #clock: () => number;
  readonly #locks: ClusterLocks;
  readonly #planner: RulePlanner;
  /** Rebinds answered whose record is not complete yet, by record id. */
  readonly #completing = new Map<number, Promise<void>>();

  constructor(deps: ClusterServiceDeps) {
    this.#store = deps.store;
    this.#fabric = deps.fabric;
    this.#metrics = deps.metrics;
    this.#clock = deps.clock ?? (() => performance.now());
    this.#locks = deps.locks;
    this.#planner = deps.planner;
  }

  // ---- reads

  listClusters(): Cluster[] {
    return this.#store.listClusters();
  }

  getCluster(clusterId: string): ClusterState {
    const state = this.#store.clusterState(clusterId);
    if (!state) throw noCluster(clusterId);
    return state;
  }

  listMembers(clusterId: string): Member[] {
    return [...this.getCluster(clusterId).members];
  }

  getMember(clusterId: string, vmId: string): Member {
    const member = findMember(this.getCluster(clusterId), vmId);
    if (!member) throw noMember(clusterId, vmId);
    return member;
  }

  listRebinds(clusterId: string, vmId: string): RebindRecord[] {
    this.getMember(clusterId, vmId);
    return this.#store.listRebinds({ clusterId, vmId });
  }

  listLinking(filter: { clusterId?: string; vmId?: string }): LinkingRecord[] {
    return this.#store.listLinking(filter);
  }

  /** Every member's switch and every connected switch that is no member (GET /v1/switches). */
  listSwitches(filter: SwitchFilter = {}): Promise<SwitchEntry[]> {
    return listSwitches(this.#store, this.#fabric, this.#planner, filter);
  }

  // ---- clusters

  async createCluster(input: ClusterCreateInput): Promise<ClusterState> {
    const { cluster, members: inputs } = input;
    const members = inputs.map((m) => memberOf(cluster, m));
    checkMemberConflicts(members, (i) => `members[${i}]`);
    return this.#locks.catalog(() =>
      this.#locks.cluster(cluster.id, async () => {
        if (this.#store.getCluster(cluster.id)) {
          throw new ControllerError("CONFLICT", `id: cluster '${cluster.id}' exists`, { field: "id" });
        }
        const other = this.#store.clusterByVni(cluster.vni);
        if (other) {
          throw new ControllerError(
            "CONFLICT",
            `vni: ${cluster.vni} is already the VNI of cluster '${other.id}'`,
            {
              field: "vni",
              details: { conflictsWith: other.id },
            },
          );
        }
        const after: ClusterState = { cluster, members };
        // Only connected switches can take their rules now (the others are reconciled when they
        // connect): 5,000 members' whole rule sets would be 100 million rules to hold at once.
        const connected = members.filter((m) => this.#fabric.isConnected(m.dpid)).map((m) => m.vmId);
        await this.#push(this.#planner.create(after, new Set(connected)), cluster.id);
        this.#store.insertCluster(cluster, members);
        return after;
      }),
    );
  }

  async updateCluster(clusterId: string, patch: ClusterPatch): Promise<Cluster> {
    return this.#locks.cluster(clusterId, async () => {
      const { cluster } = this.getCluster(clusterId);
      for (const key of ["vni", "tunnel"] as const) {
        if (patch[key] !== undefined && patch[key] !== cluster[key]) {
          throw new ControllerError(
            "IMMUTABLE",
            `${key}: a cluster's ${key} is built into its VMs and switches; create a new cluster instead`,
            { field: key },
          );
        }
      }
      if (patch.description === undefined || patch.description === cluster.description) return cluster;
      this.#store.updateClusterDescription(clusterId, patch.description);
      return { ...cluster, description: patch.description };
    });
  }

  async deleteCluster(clusterId: string): Promise<void> {
    await this.#locks.cluster(clusterId, async () => {
      const { cluster } = this.getCluster(clusterId);
      this.#store.deleteCluster(clusterId);
      this.#planner.forget(cluster.vni);
    });
  }

  // ---- members

  async addMember(clusterId: string, input: MemberInput): Promise<Member> {
    return this.#locks.cluster(clusterId, async () => {
      const state = this.getCluster(clusterId);
      if (state.members.length >= MAX_CLUSTER_MEMBERS) {
        throw new ControllerError(
          "CONFLICT",
          `members: cluster '${clusterId}' has ${state.members.length} members, the most a cluster may have`,
          { field: "members" },
        );
      }
      const member = memberOf(state.cluster, input);
      // Existing members are conflict-free, so any conflict is reported on the new one's fields.
      checkAddedMember(state.members, member);
      await this.#push(this.#planner.add(state, member), clusterId);
      this.#store.insertMember(member);
      return member;
    });
  }

  async updateMember(clusterId: string, vmId: string, patch: MemberPatch): Promise<Member> {
    return this.#locks.cluster(clusterId, async () => {
      const member = this.getMember(clusterId, vmId);
      if (patch.vint0 !== undefined && patch.vint0 !== member.vint0) {
        throw new ControllerError(
          "IMMUTABLE",
          "vint0: a member's cluster address names its switch (dpid); remove and re-add the member",
          { field: "vint0" },
        );
      }
      if (patch.endpoint !== undefined && patch.endpoint !== member.endpoint) {
        throw new ControllerError(
          "USE_REBIND",
          `endpoint: change it with POST /v1/clusters/${clusterId}/members/${vmId}/rebind (make-before-break)`,
          { field: "endpoint" },
        );
      }
      if (patch.description === undefined || patch.description === member.description) return member;
      const updated = { ...member, description: patch.description };
      this.#store.updateMember(updated);
      return updated;
    });
  }

  async removeMember(clusterId: string, vmId: string): Promise<void> {
    await this.#locks.cluster(clusterId, async () => {
      const state = this.getCluster(clusterId);
      if (!findMember(state, vmId)) throw noMember(clusterId, vmId);
      await this.#push(this.#planner.remove(state, vmId), clusterId);
      this.#store.deleteMember(clusterId, vmId);
    });
  }

  /**
   * Member `vmId` now runs at `input.endpoint`. `receivedAt` (this.clock's time base) is when the
   * request arrived: update time runs from there to the last barrier reply of the switch phase,
   * and the answer comes then, with the new endpoint committed and a pending history record.
   * Cleanup follows under the cluster's lock, then the probes' tail outside it; both are written
   * to that record (completion "done"). Outcomes are counted (icsdn_rebinds_total) where every
   * one of them is seen, at the HTTP route.
   *
   * A batch of one, planned by planRebind: its new instance gets its whole rule set in prepare
   * (its egress goes to peers that stay), so the switch phase is the peers' alone.
   */
  async rebind(
    clusterId: string,
    vmId: string,
    input: RebindInput,
    receivedAt: number,
  ): Promise<RebindReport> {
    const { endpoint } = input;
    const { phases, rebinds } = await this.#rebind(clusterId, [{ vmId, endpoint }], receivedAt, {
      plan: (state) => this.#planner.rebind(state, vmId, endpoint),
      refusal: (err) => err,
      what: () => `rebind of ${clusterId}/${vmId} to ${endpoint}`,
    });
    const { oldEndpoint, changed, rebindId, updateMs } = rebinds[0]!;
    return { clusterId, vmId, oldEndpoint, endpoint, changed, rebindId, updateMs, phases };
  }

  /**
   * Every member of `moves` now runs at its endpoint, in one make-before-break round (an atomic
   * commit's rebinds): one lock hold, one prepare and ONE switch phase for all of them, one store
   * transaction (each member's endpoint and history record), one answer at update time, then one
   * cleanup round; each record is completed as a single rebind's is. All or nothing: a refusal or
   * a switch that fails before the answer commits no member. Members already at their endpoint are
   * answered `changed: false`, so a batch sent again converges. Refusals name `rebinds[i]`.
   */
  async rebindBatch(
    clusterId: string,
    moves: readonly MemberMove[],
    receivedAt: number,
  ): Promise<BatchRebindReport> {
    return this.#rebind(clusterId, moves, receivedAt, {
      plan: (state, changing) => this.#planner.rebindBatch(state, changing),
      refusal: (err, i) => withField(err, `rebinds[${i}].${err.field}`),
      what: (moved) => `rebind of ${clusterId}/${moved.join(",")}`,
    });
  }

  /** #rebindLocked under the cluster's lock: its answer, or the refusal or failure that comes before it. */
  #rebind(
    clusterId: string,
    moves: readonly MemberMove[],
    receivedAt: number,
    kind: RebindKind,
  ): Promise<BatchRebindReport> {
    const answered = Promise.withResolvers<BatchRebindReport>();
    const work = this.#locks
      .cluster(clusterId, () => this.#rebindLocked(clusterId, moves, receivedAt, kind, answered.resolve))
      .then((afterLock) => afterLock?.());
    return Promise.race([answered.promise, work.then(() => answered.promise)]);
  }

  /** Rebind `id`'s record; with `settled`, once the work after its answer has ended. */
  async getRebind(clusterId: string, vmId: string, id: number, settled: boolean): Promise<RebindRecord> {
    this.getMember(clusterId, vmId);
    if (settled) await this.#completing.get(id);
    const record = this.#store.getRebind(id);
    if (!record || record.clusterId !== clusterId || record.vmId !== vmId) {
      throw new ControllerError("NOT_FOUND", `rebindId: member ${clusterId}/${vmId} has no rebind ${id}`, {
        field: "rebindId",
      });
    }
    return record;
  }

  /** Resolves once every rebind answered so far has its record completed (before closing the store). */
  async settle(): Promise<void> {
    while (this.#completing.size > 0) await Promise.all(this.#completing.values());
  }

  /**
   * A rebind under the cluster's lock, up to the end of its cleanup; `answer` is called at update
   * time. Returns what remains to do after the lock (the probes' tail and the records' completion).
   */
  async #rebindLocked(
    clusterId: string,
    moves: readonly MemberMove[],
    receivedAt: number,
    kind: RebindKind,
    answer: (report: BatchRebindReport) => void,
  ): Promise<(() => Promise<void>) | undefined> {
    const state = this.getCluster(clusterId);
    const members = moves.map(({ vmId }, i) => {
      const member = findMember(state, vmId);
      if (!member) throw kind.refusal(noMember(clusterId, vmId), i);
      return member;
    });
    const changing = moves.filter((m, i) => members[i]!.endpoint !== m.endpoint);
    moves.forEach(({ vmId, endpoint }, i) => {
      if (members[i]!.endpoint === endpoint) return;
      try {
        refuseTakenEndpoint(state, vmId, endpoint);
        this.#requireConnected(members[i]!);
      } catch (err) {
        throw err instanceof ControllerError ? kind.refusal(err, i) : err;
      }
    });
    const entries = (updateMs: number, ids: ReadonlyMap<string, number>): BatchRebindEntry[] =>
      moves.map(({ vmId, endpoint }, i) => ({
        vmId,
        oldEndpoint: members[i]!.endpoint,
        endpoint,
        changed: ids.has(vmId),
        rebindId: ids.get(vmId) ?? null,
        updateMs,
      }));
    if (changing.length === 0) {
      const updateMs = this.#clock() - receivedAt;
      answer({ clusterId, updateMs, phases: [], rebinds: entries(updateMs, new Map()) });
      return undefined;
    }
    const [prepare, switchOver, cleanup] = kind.plan(state, changing);
    const watches = await this.#beginWatches(state, changing);
    const finishAll = () => Promise.all(watches.map((w) => finishWatch(w)));
    const moved = new Set(changing.map((m) => m.vmId));
    let run: Awaited<ReturnType<typeof runPlan>>;
    try {
      run = await runPlan(this.#fabric, [prepare, switchOver], {
        mustConfirm: new Set(members.filter((m) => moved.has(m.vmId)).map((m) => m.dpid)),
        clock: this.#clock,
      });
    } catch (err) {
      await finishAll();
      throw err;
    }
    const updateMs = (run.addedAt ?? this.#clock()) - receivedAt;
    const records = moves.flatMap(({ vmId, endpoint }, i) =>
      moved.has(vmId)
        ? [{ clusterId, vmId, oldEndpoint: members[i]!.endpoint, newEndpoint: endpoint, updateMs }]
        : [],
    );
    if (!run.ok) {
      await finishAll();
      this.#store.transaction(() => {
        for (const r of records) this.#store.recordRebind({ ...r, result: "failed" });
      });
      throw fabricFailed(kind.what([...moved]), run.phases);
    }
    // Every switch sends to the new endpoints: those are the members' endpoints from now on.
    const ids = this.#store.transaction(() => {
      const out = new Map<string, number>();
      moves.forEach(({ vmId, endpoint }, i) => {
        if (!moved.has(vmId)) return;
        this.#store.updateMember({ ...members[i]!, endpoint, nextEndpoint: null });
      });
      for (const r of records) out.set(r.vmId, this.#store.recordRebind({ ...r, result: "ok" }).id);
      return out;
    });
    const committed = changing.map(({ vmId }, i) => ({ id: ids.get(vmId)!, watch: watches[i] }));
    return this.#answerThenCleanUp(committed, updateMs, receivedAt, cleanup, () =>
      answer({ clusterId, updateMs, phases: run.phases, rebinds: entries(updateMs, ids) }),
    );
  }

  /**
   * A rebind once committed: its records count as answered (update time; a settled `getRebind`
   * waits for them), `answer` is sent, the one cleanup round runs, and the returned step, run after
   * the lock, completes each record with its member's downtime.
   */
  async #answerThenCleanUp(
    committed: readonly { readonly id: number; readonly watch: RebindWatch | undefined }[],
    updateMs: number,
    receivedAt: number,
    cleanup: TransitionPhase,
    answer: () => void,
  ): Promise<() => Promise<void>> {
    // The answer is written once this commit is on disk (api/app.ts): its sync starts now, not
    // after the answer's serialization.
    const durable = this.#store.durable();
    const completed = Promise.withResolvers<void>();
    for (const { id } of committed) {
      this.#metrics.updateSeconds.observe(updateMs / 1000);
      this.#completing.set(id, completed.promise);
    }
    answer();
    // The answer leaves first: cleanup's encoding, writes and replies on this event loop would
    // hold it back, and it is written only after that sync (a failed sync fails the answer, not
    // the cleanup), in a promise continuation that runs before this immediate.
    await durable.catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    const cleaned = await this.#cleanUp(cleanup);
    const totalMs = this.#clock() - receivedAt;
    return async () => {
      try {
        const downtimes = await Promise.all(committed.map(({ watch }) => finishWatch(watch)));
        committed.forEach(({ id }, i) => {
          const downtime = downtimes[i] ?? null;
          this.#store.completeRebind(id, { cleanup: cleaned, totalMs, downtime });
          if (downtime) this.#metrics.downtimeSeconds.observe(downtime.ms / 1000);
        });
      } finally {
        for (const { id } of committed) this.#completing.delete(id);
        completed.resolve();
      }
    };
  }

  /**
   * Each moved member's probes and priming, seen from the state where the other moved members are
   * already at their new endpoints: its probes start at their new instances (the batch turns those,
   * not the old ones) and its priming reaches them there. One member alone: the stored state.
   */
  async #beginWatches(
    state: ClusterState,
    moves: readonly MemberMove[],
  ): Promise<(RebindWatch | undefined)[]> {
    if (!this.#fabric.beginRebind) return [];
    const watches: (RebindWatch | undefined)[] = [];
    try {
      for (const move of moves) {
        const others = rebindBatchState(
          state,
          moves.filter((m) => m !== move),
        );
        watches.push(
          await this.#fabric.beginRebind({ state: others, vmId: move.vmId, endpoint: move.endpoint }),
        );
      }
    } catch (err) {
      await Promise.all(watches.map((w) => finishWatch(w)));
      throw err;
    }
    return watches;
  }

  /**
   * A rebind's cleanup, after its answer: peers stop accepting the old endpoint. A switch that
   * fails it still accepts that endpoint until the fabric's resync reconciles it; the record shows
   * it. Null when the fabric itself broke.
   */
  async #cleanUp(cleanup: TransitionPhase): Promise<PhaseReport | null> {
    try {
      return (await runPlan(this.#fabric, [cleanup], { clock: this.#clock })).phases[0] ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Member `vmId` is about to move to `input.endpoint` (its new instance has, or is getting,
   * that address): every peer accepts tunnel packets from there from now on, so the rebind that
   * follows only switches where peers send. Announcing the same endpoint again is a no-op; a
   * different one replaces it.
   */
  async announceNextEndpoint(clusterId: string, vmId: string, input: RebindInput): Promise<Member> {
    const { endpoint } = input;
    return this.#locks.cluster(clusterId, async () => {
      const state = this.getCluster(clusterId);
      const member = findMember(state, vmId);
      if (!member) throw noMember(clusterId, vmId);
      if (member.nextEndpoint === endpoint) return member;
      if (member.endpoint === endpoint) {
        throw new ControllerError(
          "CONFLICT",
          `endpoint: ${endpoint} is the member's current endpoint; a next endpoint is where it moves to`,
          { field: "endpoint" },
        );
      }
      refuseTakenEndpoint(state, vmId, endpoint);
      return this.#setNextEndpoint(state, member, endpoint);
    });
  }

  /** Withdraws member `vmId`'s announced next endpoint: peers stop accepting it. No-op if none. */
  async withdrawNextEndpoint(clusterId: string, vmId: string): Promise<Member> {
    return this.#locks.cluster(clusterId, async () => {
      const state = this.getCluster(clusterId);
      const member = findMember(state, vmId);
      if (!member) throw noMember(clusterId, vmId);
      if (member.nextEndpoint === null) return member;
      return this.#setNextEndpoint(state, member, null);
    });
  }

  // ---- linking

  recordLinking(report: LinkingReportInput): LinkingRecord {
    this.getMember(report.clusterId, report.vmId);
    const record = this.#store.recordLinking(report);
    this.#metrics.linkingSeconds.observe(report.linkingMs / 1000);
    return record;
  }

  // ---- plumbing

  async #setNextEndpoint(state: ClusterState, member: Member, nextEndpoint: Ipv4 | null): Promise<Member> {
    const plan = this.#planner.announce(state, member.vmId, nextEndpoint);
    const run = await runPlan(this.#fabric, plan, { clock: this.#clock });
    if (!run.ok) throw fabricFailed(`next endpoint of ${member.clusterId}/${member.vmId}`, run.phases);
    const updated = { ...member, nextEndpoint };
    this.#store.updateMember(updated);
    if (nextEndpoint !== null) await this.#fabric.primeNextEndpoint?.(state, member.vmId, nextEndpoint);
    return updated;
  }

  /** Pushes a change's plan to the switches; unconnected switches are left to reconciliation. */
  async #push(plan: TransitionPlan, clusterId: string): Promise<void> {
    const run = await runPlan(this.#fabric, plan, { clock: this.#clock });
    if (!run.ok) throw fabricFailed(`change to cluster ${clusterId}`, run.phases);
  }

  /** Make-before-break needs the moving member's (new) switch: refuse before touching any switch. */
  #requireConnected(member: Member): void {
    if (!this.#fabric.isConnected(member.dpid)) {
      throw new ControllerError(
        "NOT_CONNECTED",
        `vmId: the switch of ${member.clusterId}/${member.vmId} is not connected; its new instance must be ` +
          "programmed before peers send to it (wait for vm-init's linking report)",
        { field: "vmId" },
      );
    }
  }
}

/** How a single rebind differs from a batch of one: its plan, its refusals' field, its failure's message. */
interface RebindKind {
  readonly plan: (state: ClusterState, changing: readonly MemberMove[]) => TransitionPlan;
  readonly refusal: (err: ControllerError, i: number) => ControllerError;
  readonly what: (moved: readonly string[]) => string;
}

/** A tunnel source names one member: refuses `endpoint` if another member uses or announced it. */
function refuseTakenEndpoint(state: ClusterState, vmId: string, endpoint: Ipv4): void {
  const holder = state.members.find(
    (m) => m.vmId !== vmId && (m.endpoint === endpoint || m.nextEndpoint === endpoint),
  );
  if (!holder) return;
  const what = holder.endpoint === endpoint ? "endpoint" : "announced next endpoint";
  throw new ControllerError(
    "CONFLICT",
    `endpoint: ${endpoint} is already the ${what} of member '${holder.vmId}'`,
    {
      field: "endpoint",
      details: { conflictsWith: holder.vmId },
    },
  );
}

/** The same refusal, naming `field` (a batch entry's `rebinds[i].vmId`). */
function withField(err: ControllerError, field: string): ControllerError {
  return new ControllerError(err.code, err.message.replace(/^[^:]*:/, `${field}:`), {
    field,
    ...(err.details !== undefined && { details: err.details }),
  });
}

/** The probes' tail; a watch that breaks measured nothing. */
async function finishWatch(watch: RebindWatch | undefined): Promise<DowntimeReport | null> {
  try {
    return (await watch?.finish()) ?? null;
  } catch {
    return null;
  }
}

function noCluster(clusterId: string): ControllerError {
  return new ControllerError("NOT_FOUND", `clusterId: no cluster '${clusterId}'`, { field: "clusterId" });
}

function noMember(clusterId: string, vmId: string): ControllerError {
  return new ControllerError("NOT_FOUND", `vmId: cluster '${clusterId}' has no member '${vmId}'`, {
    field: "vmId",
  });
}

function fabricFailed(what: string, phases: readonly PhaseReport[]): ControllerError {
  const failed = phases.at(-1)?.switches.filter((s) => s.status !== "confirmed") ?? [];
  return new ControllerError(
    "FABRIC_FAILED",
    `${what}: stopped in phase '${phases.at(-1)?.phase}': ${failed.map((s) => `${s.vmId} ${s.status}`).join(", ")}; ` +
      "nothing was committed",
    { details: { phases } },
  );
}
