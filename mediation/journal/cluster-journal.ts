import { randomUUID } from "node:crypto";
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { MediationError } from "../errors.ts";
import type {
  ClusterPhase,
  ClusterRequest,
  ClusterStatus,
  MemberState,
  SharedResource,
} from "../model/cluster.ts";
import { EventLog, type JournalEvent } from "./event-log.ts";

export interface ClusterMigrationRecord {
  readonly id: string;
  readonly cluster: string;
  readonly request: ClusterRequest;
  readonly status: ClusterStatus;
  readonly phase: ClusterPhase;
  readonly error: { readonly code: string; readonly message: string } | null;
  /** The commit (all rebinds, atomic mode): when it began and ended. */
  readonly commitStartedAt: number | null;
  readonly commitEndedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ClusterMemberRecord {
  readonly member: string;
  readonly idx: number;
  readonly migrationId: string | null;
  readonly state: MemberState;
  /** In transit: from the rebind's start to the source's release. */
  readonly cutoverStartedAt: number | null;
  readonly cutoverEndedAt: number | null;
}

type Row = Record<string, SQLInputValue>;

/** Cluster migrations in the same SQLite journal, each member linked to its own migration. */
export class ClusterJournal {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #tx: <T>(fn: () => T) => T;
  readonly #events: EventLog;

  /** The journal's durable(): what a shared resource's intent awaits before the cloud creates it. */
  readonly durable: () => Promise<void>;

  constructor(db: DatabaseSync, now: () => number, tx: <T>(fn: () => T) => T, durable: () => Promise<void>) {
    this.durable = durable;
    this.#db = db;
    this.#now = now;
    this.#tx = tx;
    this.#events = new EventLog(db, "cluster_events", "cluster_migration_id");
  }

  /** Records a cluster migration and its members (all `pending`); one per cluster in flight. */
  create(request: ClusterRequest): ClusterMigrationRecord {
    return this.#tx(() => {
      const busy = this.#db
        .prepare(
          "SELECT id FROM cluster_migrations WHERE cluster = ? AND status IN ('running', 'rolling_back')",
        )
        .get(request.cluster) as Row | undefined;
      if (busy) {
        throw new MediationError(
          "MIGRATION_BUSY",
          `cluster '${request.cluster}' is being migrated (cluster migration ${String(busy.id)})`,
          { field: "cluster", details: { clusterMigration: String(busy.id) } },
        );
      }
      const id = randomUUID();
      const now = this.#now();
      this.#db
        .prepare(
          "INSERT INTO cluster_migrations (id, cluster, mode, plan, status, phase, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', 'preparing', ?, ?)",
        )
        .run(id, request.cluster, request.mode, JSON.stringify(request), now, now);
      const insert = this.#db.prepare(
        "INSERT INTO cluster_members (cluster_migration_id, idx, member, state) VALUES (?, ?, ?, 'pending')",
      );
      for (const [i, m] of request.members.entries()) insert.run(id, i, m.member);
      return this.get(id)!;
    });
  }

  get(id: string): ClusterMigrationRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM cluster_migrations WHERE id = ?").get(id) as Row | undefined;
    return row && clusterRecord(row);
  }

  list(): ClusterMigrationRecord[] {
    return (
      this.#db.prepare("SELECT * FROM cluster_migrations ORDER BY created_at DESC, id").all() as Row[]
    ).map(clusterRecord);
  }

  unfinished(): ClusterMigrationRecord[] {
    return (
      this.#db
        .prepare(
          "SELECT * FROM cluster_migrations WHERE status IN ('running', 'rolling_back') ORDER BY created_at",
        )
        .all() as Row[]
    ).map(clusterRecord);
  }

  #update(id: string, fields: Record<string, SQLInputValue>): void {
    const keys = Object.keys(fields);
    this.#db
      .prepare(
        `UPDATE cluster_migrations SET ${keys.map((k) => `${k} = ?, `).join("")}updated_at = ? WHERE id = ?`,
      )
      .run(...keys.map((k) => fields[k]!), this.#now(), id);
  }

  setStatus(id: string, status: ClusterStatus, error?: { code: string; message: string }): void {
    this.#update(id, { status, ...(error && { error_code: error.code, error_message: error.message }) });
  }

  /** `commitEndedAt`: at confirmation, when the last rebind ended (the links' checks after it are not the commit's). */
  setPhase(id: string, phase: ClusterPhase, commitEndedAt?: number): void {
    this.#update(id, {
      phase,
      ...(phase === "committing" && { commit_started_at: this.#now() }),
      ...(phase === "confirmed" && { commit_ended_at: commitEndedAt ?? this.#now() }),
    });
  }

  members(id: string): ClusterMemberRecord[] {
    return (
      this.#db
        .prepare("SELECT * FROM cluster_members WHERE cluster_migration_id = ? ORDER BY idx")
        .all(id) as Row[]
    ).map((r) => ({
      member: String(r.member),
      idx: Number(r.idx),
      migrationId: r.migration_id === null ? null : String(r.migration_id),
      state: String(r.state) as MemberState,
      cutoverStartedAt: r.cutover_started_at === null ? null : Number(r.cutover_started_at),
      cutoverEndedAt: r.cutover_ended_at === null ? null : Number(r.cutover_ended_at),
    }));
  }

  /** A member's new state; entering or leaving transit stamps the time (the rolling mode's bound is checked from these). */
  setMember(id: string, member: string, change: { state: MemberState; migrationId?: string }): void {
    const now = this.#now();
    const stamp =
      change.state === "rebinding"
        ? ", cutover_started_at = COALESCE(cutover_started_at, ?)"
        : change.state === "done" || change.state === "failed"
          ? ", cutover_ended_at = CASE WHEN cutover_started_at IS NULL THEN NULL ELSE ? END"
          : "";
    const args: SQLInputValue[] = [change.state];
    if (change.migrationId !== undefined) args.push(change.migrationId);
    if (stamp) args.push(now);
    this.#db
      .prepare(
        `UPDATE cluster_members SET state = ?${change.migrationId !== undefined ? ", migration_id = ?" : ""}${stamp} WHERE cluster_migration_id = ? AND member = ?`,
      )
      .run(...args, id, member);
    this.#update(id, {});
  }

  /** Writes a shared target resource down before it is created; returns its sequence number. */
  intendShared(id: string, r: { cloud: string; kind: SharedResource["kind"]; name: string }): number {
    return this.#tx(() => {
      const row = this.#db
        .prepare(
          "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM cluster_resources WHERE cluster_migration_id = ?",
        )
        .get(id) as Row;
      const seq = Number(row.next);
      this.#db
        .prepare(
          "INSERT INTO cluster_resources (cluster_migration_id, seq, cloud, kind, name, state) VALUES (?, ?, ?, ?, ?, 'creating')",
        )
        .run(id, seq, r.cloud, r.kind, r.name);
      return seq;
    });
  }

  sharedCreated(id: string, seq: number, resourceId: string): void {
    this.#db
      .prepare(
        "UPDATE cluster_resources SET resource_id = ?, state = 'present' WHERE cluster_migration_id = ? AND seq = ?",
      )
      .run(resourceId, id, seq);
  }

  sharedDeleted(id: string, seq: number): void {
    this.#db
      .prepare("UPDATE cluster_resources SET state = 'deleted' WHERE cluster_migration_id = ? AND seq = ?")
      .run(id, seq);
  }

  sharedResources(id: string): SharedResource[] {
    return (
      this.#db
        .prepare("SELECT * FROM cluster_resources WHERE cluster_migration_id = ? ORDER BY seq")
        .all(id) as Row[]
    ).map((r) => ({
      seq: Number(r.seq),
      cloud: String(r.cloud),
      kind: String(r.kind) as SharedResource["kind"],
      name: String(r.name),
      id: r.resource_id === null ? null : String(r.resource_id),
      state: String(r.state) as SharedResource["state"],
    }));
  }

  event(id: string, type: string, data: Record<string, unknown>): JournalEvent {
    return this.#tx(() => this.#events.append(id, this.#now(), type, data));
  }

  eventsAfter(id: string, seq: number): JournalEvent[] {
    return this.#events.after(id, seq);
  }
}

function clusterRecord(r: Row): ClusterMigrationRecord {
  return {
    id: String(r.id),
    cluster: String(r.cluster),
    request: JSON.parse(String(r.plan)) as ClusterRequest,
    status: String(r.status) as ClusterStatus,
    phase: String(r.phase) as ClusterPhase,
    error: r.error_code === null ? null : { code: String(r.error_code), message: String(r.error_message) },
    commitStartedAt: r.commit_started_at === null ? null : Number(r.commit_started_at),
    commitEndedAt: r.commit_ended_at === null ? null : Number(r.commit_ended_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
