import { EventEmitter } from "node:events";
import { IcsdnError } from "../../contract/errors/index.ts";
import { MediationError } from "../errors.ts";
import type { ClusterMigrationRecord } from "../journal/cluster-journal.ts";
import type { Journal, JournalEvent } from "../journal/journal.ts";
import type { MediationMetrics } from "../metrics.ts";
import {
  type ClusterPhase,
  clusterRecovery,
  IN_TRANSIT,
  type MemberState,
  nextDecision,
  sharedRelease,
} from "../model/cluster.ts";
import { rateAndEta, TERMINAL } from "../model/migration.ts";
import { mbpsToBytesPerSecond, TokenBucket } from "../model/token-bucket.ts";
import type { ClusterPlan } from "../planner/cluster-plan.ts";
import { type ClusterMigrationInput, type DiscoveryDeps, discoverCluster } from "./cluster-discovery.ts";
import { CommitBatch } from "./commit-batch.ts";
import type { CutoverGate } from "./runner.ts";
import { createShared, deleteShared, type SharedDeps } from "./shared-resources.ts";
import { withDownloadCap } from "./throttle.ts";

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A gate nobody waits on any more (its member already failed) must not be an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** One running cluster migration's memory (the journal holds what survives a restart). */
interface Run {
  readonly record: ClusterMigrationRecord;
  readonly states: Map<string, MemberState>;
  readonly migrationOf: Map<string, string>;
  readonly gates: Map<string, { verified: Deferred; rebound: Deferred }>;
  /** Rolling, after a restart: members rolled back as INTERRUPTED start once more. */
  readonly retry: Set<string>;
  /** The first members' migrations created (or refused): the 202 answer names their ids. */
  readonly initial: Promise<unknown>;
  /** Settles `initial` (with the first starts, or at once when the cluster ends before any). */
  firstStarts: (started: Promise<unknown>) => void;
  phase: ClusterPhase;
  cancelled: boolean;
  interrupted: boolean;
  aborted: boolean;
  firstError: { code: string; message: string } | undefined;
  /** Atomic, with a controller that takes batches: the commit's rebinds go out as one. */
  readonly commit: CommitBatch | undefined;
  /** Atomic: when the last member's rebind was answered (the commit's own duration ends there). */
  rebindsEndedAt?: number;
  wake: () => void;
}

/**
 * Runs cluster migrations: each member's migration through the single-member runner, held at its
 * cutover by a gate; the pure scheduler (model/cluster.ts) decides what starts, what cuts over,
 * when the atomic commit is confirmed and when to abort. Journaled, so a restart resumes or rolls
 * back the whole cluster according to its mode.
 */
export interface CoordinatorDeps extends DiscoveryDeps {
  readonly metrics: MediationMetrics;
}

/** Attempts at deleting the shared resources before the next start takes over. */
const SHARED_RELEASE_ATTEMPTS = 3;

export class ClusterCoordinator {
  readonly #deps: CoordinatorDeps;
  readonly #runs = new Map<string, Run>();
  readonly #tasks = new Set<Promise<void>>();
  readonly events = new EventEmitter<{ event: [string, JournalEvent] }>();

  constructor(deps: CoordinatorDeps) {
    this.#deps = deps;
    this.events.setMaxListeners(0);
    deps.runner.events.on("event", (migrationId, e) => this.#onMemberEvent(migrationId, e));
  }

  get #journal() {
    return this.#deps.journal.clusters;
  }

  /** The editable plan and every problem, creating nothing. */
  async plan(input: ClusterMigrationInput): Promise<ClusterPlan> {
    return (await discoverCluster(this.#deps, input)).plan;
  }

  /** Plans, refuses a plan with problems (creating nothing), else journals and starts it. */
  async start(input: ClusterMigrationInput): Promise<ClusterMigrationRecord> {
    const { plan, request } = await discoverCluster(this.#deps, input);
    if (plan.problems.length > 0) {
      throw new MediationError(
        "PRECHECK_FAILED",
        `the cluster migration cannot start: ${plan.problems.map((p) => p.message).join("; ")}`,
        { field: plan.problems[0]!.field, details: { problems: plan.problems } },
      );
    }
    for (const m of request.members) {
      const busy = this.#deps.journal.inFlightFor(m.member);
      if (busy)
        throw new MediationError("MIGRATION_BUSY", `member '${m.member}' is being migrated (${busy.id})`, {
          field: "cluster",
          details: { migration: busy.id },
        });
    }
    const record = this.#journal.create(request);
    this.#event(record.id, "planned", { plan });
    await this.#deps.journal.durable();
    this.#spawn(record, new Map(), false, false);
    await this.#runs.get(record.id)?.initial;
    return this.#journal.get(record.id) ?? record;
  }

  cancel(id: string): ClusterMigrationRecord {
    const record = this.#journal.get(id);
    if (!record)
      throw new MediationError("MIGRATION_NOT_FOUND", `no cluster migration ${id}`, { field: "id" });
    const run = this.#runs.get(id);
    if (TERMINAL.includes(record.status) || !run) {
      throw new MediationError(
        "MIGRATION_BUSY",
        `cluster migration ${id} is ${record.status}, nothing to cancel`,
        {
          field: "id",
        },
      );
    }
    if (record.request.mode === "atomic" && (run.phase === "confirmed" || run.phase === "done")) {
      throw new MediationError(
        "MIGRATION_BUSY",
        `cluster migration ${id} is past its commit point; it finishes`,
        {
          field: "id",
        },
      );
    }
    run.cancelled = true;
    run.wake();
    return record;
  }

  /**
   * After a restart, before the single-member recovery (which `recoverMembers` runs): an atomic
   * cluster past its confirmation marks its members committed so they release; then every
   * unfinished cluster migration resumes watching its members.
   */
  recover(recoverMembers: () => void): void {
    const resumed: [ClusterMigrationRecord, ReturnType<typeof clusterRecovery>][] = [];
    for (const record of this.#journal.unfinished()) {
      const members = this.#journal.members(record.id).map((m) => {
        const mig = m.migrationId === null ? undefined : this.#deps.journal.get(m.migrationId);
        return { member: m.member, migration: mig && { status: mig.status, committed: mig.committed } };
      });
      const decision = clusterRecovery(record.request.mode, record.phase, members);
      for (const member of decision.commit) {
        const migrationId = this.#journal.members(record.id).find((m) => m.member === member)?.migrationId;
        if (migrationId) this.#deps.journal.setCommitted(migrationId);
      }
      this.#event(record.id, "recovered", {
        action: decision.interrupted ? "rollback" : "resume",
        phase: record.phase,
      });
      resumed.push([record, decision]);
    }
    recoverMembers();
    for (const [record, decision] of resumed) {
      this.#spawn(record, decision.resumeAs, decision.interrupted, record.request.mode === "rolling");
    }
  }

  async idle(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #event(id: string, type: string, data: Record<string, unknown>): void {
    this.events.emit("event", id, this.#journal.event(id, type, data));
  }

  #spawn(
    record: ClusterMigrationRecord,
    resumeAs: ReadonlyMap<string, MemberState>,
    interrupted: boolean,
    retryInterrupted: boolean,
  ): void {
    const members = this.#journal.members(record.id);
    let firstStarts!: (started: Promise<unknown>) => void;
    const initial = new Promise<unknown>((resolve) => {
      firstStarts = resolve;
    });
    const run: Run = {
      record,
      states: new Map(members.map((m) => [m.member, resumeAs.get(m.member) ?? m.state])),
      migrationOf: new Map(members.flatMap((m) => (m.migrationId ? [[m.member, m.migrationId]] : []))),
      gates: new Map(),
      commit: record.request.mode === "atomic" ? this.#commitBatch() : undefined,
      retry: new Set(retryInterrupted ? members.map((m) => m.member) : []),
      initial,
      firstStarts,
      phase: record.phase,
      cancelled: false,
      interrupted,
      aborted: false,
      firstError: interrupted
        ? {
            code: "INTERRUPTED",
            message: "the service stopped before the cluster's commit; rolled back at restart",
          }
        : undefined,
      wake: () => undefined,
    };
    this.#runs.set(record.id, run);
    for (const [member, state] of run.states) this.#journal.setMember(record.id, member, { state });
    // Members whose own migration is still settling (recovery): watch them to their end.
    for (const [member, state] of run.states) {
      const migrationId = run.migrationOf.get(member);
      if (migrationId && state !== "pending" && state !== "done" && state !== "failed")
        void this.#watch(run, member, migrationId);
    }
    const task = this.#coordinate(run)
      .catch((err: unknown) => {
        this.#journal.setStatus(record.id, "failed", {
          code: "INTERNAL",
          message: err instanceof Error ? err.message : String(err),
        });
      })
      .finally(() => {
        run.firstStarts(Promise.resolve());
        this.#runs.delete(record.id);
        this.#tasks.delete(task);
      });
    this.#tasks.add(task);
  }

  #set(run: Run, member: string, state: MemberState, migrationId?: string): void {
    if (run.states.get(member) === state && migrationId === undefined) return;
    run.states.set(member, state);
    if (migrationId !== undefined) run.migrationOf.set(member, migrationId);
    this.#journal.setMember(run.record.id, member, {
      state,
      ...(migrationId !== undefined && { migrationId }),
    });
    this.#memberEvent(run, member);
    run.wake();
  }

  async #coordinate(run: Run): Promise<void> {
    const id = run.record.id;
    const req = run.record.request;
    const bucket =
      req.bandwidthMbps === undefined
        ? undefined
        : new TokenBucket(
            mbpsToBytesPerSecond(req.bandwidthMbps),
            Math.max(64 << 10, mbpsToBytesPerSecond(req.bandwidthMbps) / 10),
            performance.now(),
          );
    await this.#createShared(run);
    for (;;) {
      const changed = new Promise<void>((resolve) => {
        run.wake = resolve;
      });
      const d = nextDecision({
        mode: req.mode,
        maxParallel: req.maxParallel,
        maxInTransit: req.maxInTransit,
        phase: run.phase,
        members: req.members.map((m) => ({ member: m.member, state: run.states.get(m.member) ?? "pending" })),
        cancelled: run.cancelled,
        interrupted: run.interrupted,
      });
      if (d.outcome) {
        run.firstStarts(Promise.resolve());
        if (!(await this.#releaseShared(run))) return;
        const error =
          d.outcome === "succeeded"
            ? undefined
            : d.outcome === "cancelled"
              ? { code: "CANCELLED", message: "cancelled by request" }
              : (run.firstError ?? { code: "INTERNAL", message: "a member failed" });
        run.phase = "done";
        this.#journal.setPhase(id, "done");
        this.#journal.setStatus(id, d.outcome, error);
        this.#deps.metrics.clusterMigrationsTotal.inc({ mode: req.mode, result: d.outcome });
        this.#event(id, d.outcome, error ?? {});
        return;
      }
      if (d.abort && !run.aborted) {
        run.aborted = true;
        this.#journal.setStatus(id, "rolling_back", run.firstError);
        this.#event(id, "rolling_back", { ...(run.firstError ?? { code: "CANCELLED" }) });
        const why = new MediationError("CANCELLED", "the cluster migration is rolling back");
        for (const g of run.gates.values()) {
          g.verified.reject(why);
          g.rebound.reject(why);
        }
        run.commit?.abandon(why);
        for (const migrationId of run.migrationOf.values()) this.#deps.runner.abort(migrationId);
      }
      const starting = d.start.map((member) => {
        this.#set(run, member, "preparing");
        return this.#startMember(run, member, bucket);
      });
      if (starting.length > 0) run.firstStarts(Promise.all(starting));
      if (d.cut.length > 0) {
        if (req.mode === "atomic") {
          // The commit begins: journaled before any member rebinds.
          run.phase = "committing";
          this.#journal.setPhase(id, "committing");
          this.#event(id, "phase", { phase: "committing" });
          run.commit?.begin(d.cut);
        }
        for (const member of d.cut) {
          this.#set(run, member, "rebinding");
          const migrationId = run.migrationOf.get(member);
          if (migrationId) this.#gate(run, migrationId).verified.resolve();
        }
      }
      if (d.confirm) {
        // The cluster's commit point: every member is rebound.
        run.phase = "confirmed";
        this.#journal.setPhase(id, "confirmed", run.rebindsEndedAt);
        const ms = commitMs(this.#journal.get(id)!);
        if (ms !== null) this.#deps.metrics.clusterCommitSeconds.observe(ms / 1000);
        this.#event(id, "committed", { commitMs: ms });
        for (const g of run.gates.values()) g.rebound.resolve();
      }
      if (d.start.length > 0 || d.cut.length > 0 || d.confirm) continue;
      await changed;
    }
  }

  /** A commit batch over the controller port, when the controller takes batches. */
  #commitBatch(): CommitBatch | undefined {
    const controller = this.#deps.controller;
    if (!controller.rebindBatch) return undefined;
    return new CommitBatch(controller, (clusterId, rebinds) => controller.rebindBatch!(clusterId, rebinds));
  }

  #sharedDeps(run: Run): SharedDeps {
    return {
      clusters: this.#journal,
      cloud: this.#deps.cloud,
      event: (type, data) => this.#event(run.record.id, type, data),
    };
  }

  /**
   * Before any member prepares (also when a rolling cluster resumes): the target resources several
   * members may need, made once and owned by the cluster. A failure fails every member not started.
   */
  async #createShared(run: Run): Promise<void> {
    if (run.interrupted) return;
    const toStart = run.record.request.members.filter((m) => {
      const state = run.states.get(m.member);
      return state === "pending" || (state === "preparing" && run.retry.has(m.member));
    });
    if (toStart.length === 0) return;
    try {
      await createShared(
        this.#sharedDeps(run),
        run.record.id,
        toStart.map((m) => m.request),
      );
    } catch (err) {
      run.firstError ??= {
        code: err instanceof IcsdnError ? err.code : "INTERNAL",
        message: `shared target resources: ${err instanceof Error ? err.message : String(err)}`,
      };
      for (const m of toStart) {
        // A rolled-back member of a resumed rolling cluster is not started again either.
        run.retry.delete(m.member);
        if (run.states.get(m.member) === "pending") this.#set(run, m.member, "failed");
      }
    }
  }

  /**
   * Once no member is active: deletes the shared resources of every target cloud no member moved
   * to (tried a few times: the lab's clouds answer 500 now and then). False when some remain: the
   * cluster stays `rolling_back` and the next start tries again.
   */
  async #releaseShared(run: Run): Promise<boolean> {
    const id = run.record.id;
    const members = run.record.request.members.map((m) => ({
      targetCloud: m.request.targetCloud,
      state: run.states.get(m.member) ?? "pending",
    }));
    for (let attempt = 1; ; attempt++) {
      const failures: string[] = [];
      for (const r of sharedRelease(this.#journal.sharedResources(id), members)) {
        try {
          await deleteShared(this.#sharedDeps(run), id, r);
        } catch (err) {
          failures.push(`${r.kind} '${r.name}' in ${r.cloud}: ${(err as Error).message}`);
        }
      }
      if (failures.length === 0) return true;
      if (attempt >= SHARED_RELEASE_ATTEMPTS) {
        this.#journal.setStatus(id, "rolling_back", run.firstError);
        this.#event(id, "shared_release_failed", { errors: failures, retry: "at the next start" });
        return false;
      }
      await new Promise((r) => setTimeout(r, 2000 * attempt));
    }
  }

  async #startMember(run: Run, member: string, bucket: TokenBucket | undefined): Promise<void> {
    const request = run.record.request.members.find((m) => m.member === member)!.request;
    const rolling = run.record.request.mode === "rolling";
    const gate: CutoverGate = {
      verified: (migrationId) => this.#gate(run, migrationId).verified.promise,
      rebound: (migrationId) => (rolling ? Promise.resolve() : this.#gate(run, migrationId).rebound.promise),
    };
    try {
      const { record } = await this.#deps.runner.start(request, undefined, {
        gate,
        clusterMigrationId: run.record.id,
        ...(run.commit && { controller: run.commit.port }),
        ...(bucket && { wrapSource: (driver) => withDownloadCap(driver, bucket) }),
      });
      this.#set(run, member, "preparing", record.id);
      if (run.aborted) this.#deps.runner.abort(record.id);
      void this.#watch(run, member, record.id);
    } catch (err) {
      run.firstError ??= {
        code: err instanceof IcsdnError ? err.code : "INTERNAL",
        message: `member '${member}': ${err instanceof Error ? err.message : String(err)}`,
      };
      this.#set(run, member, "failed");
    }
  }

  #gate(run: Run, migrationId: string) {
    let g = run.gates.get(migrationId);
    if (!g) {
      g = { verified: deferred(), rebound: deferred() };
      if (run.aborted) {
        const why = new MediationError("CANCELLED", "the cluster migration is rolling back");
        g.verified.reject(why);
        g.rebound.reject(why);
      }
      run.gates.set(migrationId, g);
    }
    return g;
  }

  /** Follows a member migration to its end: its outcome becomes the member's state. */
  async #watch(run: Run, member: string, migrationId: string): Promise<void> {
    const final = await this.#deps.runner.settled(migrationId);
    if (final?.status === "succeeded") return this.#set(run, member, "done");
    if (final?.status === "running") {
      // A release after the commit that failed every retry: the member stays in transit, and the
      // next start retries it.
      return;
    }
    if (run.retry.has(member) && final?.error?.code === "INTERRUPTED") {
      run.retry.delete(member);
      return this.#set(run, member, "pending");
    }
    if (!run.cancelled && !run.aborted) {
      run.firstError ??= {
        code: final?.error?.code ?? "INTERNAL",
        message: `member '${member}': ${final?.error?.message ?? "failed"}`,
      };
    }
    this.#set(run, member, "failed");
  }

  /** A member migration's event, as its cluster sees it (state changes and progress). */
  #onMemberEvent(migrationId: string, e: JournalEvent): void {
    for (const run of this.#runs.values()) {
      for (const [member, id] of run.migrationOf) {
        if (id !== migrationId) continue;
        const atomic = run.record.request.mode === "atomic";
        if (e.type === "verified") this.#set(run, member, "verified");
        else if (e.type === "rebound" && atomic) run.rebindsEndedAt = Math.max(run.rebindsEndedAt ?? 0, e.at);
        else if ((e.type === "links_checked" || e.type === "links_unchecked") && atomic)
          this.#set(run, member, "rebound");
        else if (e.type === "committed") this.#set(run, member, "releasing");
        else if (e.type === "phase" || e.type === "progress") this.#memberEvent(run, member);
        return;
      }
    }
  }

  #memberEvent(run: Run, member: string): void {
    const view = clusterMemberView(
      this.#deps.journal,
      member,
      run.states.get(member) ?? "pending",
      run.migrationOf.get(member) ?? null,
    );
    this.#event(run.record.id, "member", view);
    this.#event(run.record.id, "progress", wholeProgress(this.#deps.journal, run.record.id));
  }
}

/** The atomic commit's own duration (all rebinds), once confirmed. */
export function commitMs(r: ClusterMigrationRecord): number | null {
  return r.commitStartedAt === null || r.commitEndedAt === null
    ? null
    : Math.round(r.commitEndedAt - r.commitStartedAt);
}

/** One member of a cluster migration as the API shows it. */
export function clusterMemberView(
  journal: Journal,
  member: string,
  state: MemberState,
  migrationId: string | null,
  now = Date.now(),
) {
  const m = migrationId === null ? undefined : journal.get(migrationId);
  const transferring = m?.step === "image_transfer" && m.status === "running";
  const { rate, etaSeconds } =
    m?.transferStartedAt == null
      ? { rate: 0, etaSeconds: null }
      : rateAndEta(
          m.bytesDone,
          m.bytesTotal ?? undefined,
          m.transferStartedAt,
          transferring ? now : m.updatedAt,
        );
  return {
    member,
    migrationId,
    state,
    inTransit: IN_TRANSIT.includes(state),
    status: m?.status ?? "pending",
    phase: m?.step ?? "pending",
    bytesDone: m?.bytesDone ?? 0,
    bytesTotal: m?.bytesTotal ?? null,
    rate: Math.round(rate),
    eta: etaSeconds === null ? null : Math.round(etaSeconds * 10) / 10,
  };
}

/** The whole cluster's bytes, rate and ETA: the sum of its members'. */
export function wholeProgress(journal: Journal, id: string) {
  const members = journal.clusters
    .members(id)
    .map((m) => clusterMemberView(journal, m.member, m.state, m.migrationId));
  const bytesDone = members.reduce((n, m) => n + m.bytesDone, 0);
  const known = members.every((m) => m.bytesTotal !== null);
  const bytesTotal = known ? members.reduce((n, m) => n + (m.bytesTotal ?? 0), 0) : null;
  const rate = members.reduce((n, m) => n + m.rate, 0);
  const eta =
    bytesTotal === null || rate <= 0 ? null : Math.round(((bytesTotal - bytesDone) / rate) * 10) / 10;
  return { bytesDone, bytesTotal, rate, eta };
}
