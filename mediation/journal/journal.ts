import { randomUUID } from "node:crypto";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { WalSync } from "../../contract/storage/wal-sync.ts";
import { MediationError } from "../errors.ts";
import type {
  JournalResource,
  MigrationRequest,
  MigrationStatus,
  ResourceKind,
  ResourceSide,
  Step,
  TimedPhase,
} from "../model/migration.ts";
import type { Manifest, ManifestChunk } from "../transfer/manifest.ts";
import { ClusterJournal } from "./cluster-journal.ts";
import { EventLog, type JournalEvent } from "./event-log.ts";
import { JOURNAL_MIGRATIONS } from "./schema.ts";

export interface MigrationRecord {
  readonly id: string;
  readonly member: string;
  readonly request: MigrationRequest;
  readonly status: MigrationStatus;
  readonly step: Step;
  readonly committed: boolean;
  readonly clusterId: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly bytesTotal: number | null;
  readonly bytesDone: number;
  readonly uploadAttempt: number;
  readonly downloadResumes: number;
  readonly transferStartedAt: number | null;
  /** Attempts at releasing the source after the commit (retried with backoff). */
  readonly releaseAttempt: number;
  /** The cluster migration this member migration belongs to, if any. */
  readonly clusterMigrationId: string | null;
  /** The whole image's hash in the clouds' algorithm, once transferred. */
  readonly imageHash: { readonly algo: string; readonly value: string } | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

type Row = Record<string, SQLInputValue>;

export type { JournalEvent };

/**
 * The migration journal in SQLite: each migration's request, step and status, every cloud
 * resource (written `creating` before the call that creates it, `deleted` after the call that
 * deletes it), phase timings, events, and the transfer's manifest. WAL and synchronous=NORMAL: a
 * `kill -9` loses nothing that a method returned from; `durable()` (contract/storage/wal-sync.ts, off the event
 * loop) is what the runner awaits before a cloud or the controller acts on what was written.
 */
export class Journal {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #events: EventLog;
  readonly #sync: WalSync;
  /** Cluster migrations, in the same database. */
  readonly clusters: ClusterJournal;

  private constructor(path: string, db: DatabaseSync, now: () => number) {
    this.#db = db;
    this.#now = now;
    this.#events = new EventLog(db, "events", "migration_id");
    this.#sync = new WalSync(
      path,
      db,
      (message, cause) => new MediationError("JOURNAL_FAILED", message, { cause }),
    );
    this.clusters = new ClusterJournal(
      db,
      now,
      (fn) => this.#tx(fn),
      () => this.durable(),
    );
  }

  static open(path: string, now: () => number = Date.now): Journal {
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA foreign_keys = ON");
      if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
      // Commits do not fsync on the event loop: durable() does, off it.
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA busy_timeout = 5000");
      const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
      if (version > JOURNAL_MIGRATIONS.length)
        throw new MediationError(
          "JOURNAL_FAILED",
          `journal ${path} has schema v${version}, newer than this service's`,
        );
      for (let v = version; v < JOURNAL_MIGRATIONS.length; v++) {
        db.exec("BEGIN");
        db.exec(JOURNAL_MIGRATIONS[v]!);
        db.exec(`PRAGMA user_version = ${v + 1}`);
        db.exec("COMMIT");
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return new Journal(path, db, now);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
    this.#sync.close();
  }

  /** Resolves once every write made before the call is on disk (the WAL's fdatasync, off the event loop). */
  durable(): Promise<void> {
    return this.#sync.durable();
  }

  isHealthy(): boolean {
    try {
      return this.#db.isOpen && this.#db.prepare("SELECT 1 AS ok").get() !== undefined;
    } catch {
      return false;
    }
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  /**
   * Records a new migration, or returns the one an earlier POST with the same idempotency key
   * created. A member with a migration in flight refuses a second one.
   */
  create(
    request: MigrationRequest,
    idempotencyKey: string | undefined,
    clusterMigrationId?: string,
  ): { record: MigrationRecord; created: boolean } {
    return this.#tx(() => {
      if (idempotencyKey !== undefined) {
        const row = this.#db
          .prepare("SELECT id FROM migrations WHERE idempotency_key = ?")
          .get(idempotencyKey) as Row | undefined;
        if (row) return { record: this.get(String(row.id))!, created: false };
      }
      const busy = this.#db
        .prepare("SELECT id FROM migrations WHERE member = ? AND status IN ('running', 'rolling_back')")
        .get(request.member) as Row | undefined;
      if (busy) {
        throw new MediationError(
          "MIGRATION_BUSY",
          `member '${request.member}' is being migrated (migration ${String(busy.id)})`,
          {
            field: "member",
            details: { migration: String(busy.id) },
          },
        );
      }
      const id = randomUUID();
      const now = this.#now();
      this.#db
        .prepare(
          "INSERT INTO migrations (id, idempotency_key, member, request, status, step, cluster_migration_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', 'precheck', ?, ?, ?)",
        )
        .run(
          id,
          idempotencyKey ?? null,
          request.member,
          JSON.stringify(request),
          clusterMigrationId ?? null,
          now,
          now,
        );
      return { record: this.get(id)!, created: true };
    });
  }

  byIdempotencyKey(key: string): MigrationRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM migrations WHERE idempotency_key = ?").get(key) as
      | Row
      | undefined;
    return row && record(row);
  }

  inFlightFor(member: string): MigrationRecord | undefined {
    const row = this.#db
      .prepare("SELECT * FROM migrations WHERE member = ? AND status IN ('running', 'rolling_back')")
      .get(member) as Row | undefined;
    return row && record(row);
  }

  get(id: string): MigrationRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM migrations WHERE id = ?").get(id) as Row | undefined;
    return row && record(row);
  }

  list(): MigrationRecord[] {
    return (this.#db.prepare("SELECT * FROM migrations ORDER BY created_at DESC, id").all() as Row[]).map(
      record,
    );
  }

  /** Migrations a restart must resume or roll back. */
  unfinished(): MigrationRecord[] {
    return (
      this.#db
        .prepare("SELECT * FROM migrations WHERE status IN ('running', 'rolling_back') ORDER BY created_at")
        .all() as Row[]
    ).map(record);
  }

  #update(id: string, fields: Record<string, SQLInputValue>): void {
    const keys = Object.keys(fields);
    this.#db
      .prepare(`UPDATE migrations SET ${keys.map((k) => `${k} = ?`).join(", ")}, updated_at = ? WHERE id = ?`)
      .run(...keys.map((k) => fields[k]!), this.#now(), id);
  }

  setStep(id: string, step: Step): void {
    this.#update(id, { step });
  }

  setCluster(id: string, clusterId: string): void {
    this.#update(id, { cluster_id: clusterId });
  }

  setCommitted(id: string): void {
    this.#update(id, { committed: 1 });
  }

  setStatus(id: string, status: MigrationStatus, error?: { code: string; message: string }): void {
    // A success clears what a failed release attempt noted.
    const cleared = status === "succeeded" ? { error_code: null, error_message: null } : {};
    this.#update(id, {
      status,
      ...cleared,
      ...(error && { error_code: error.code, error_message: error.message }),
    });
  }

  setReleaseAttempt(id: string, attempt: number): void {
    this.#update(id, { release_attempt: attempt });
  }

  /** What finished migrations measured: bytes, transfer seconds (the upload leg), total seconds. */
  transferSamples(limit = 50): { bytes: number; transferSeconds: number; totalSeconds: number }[] {
    const rows = this.#db
      .prepare(
        `SELECT m.bytes_total AS bytes, (t.ended_at - t.started_at) / 1000.0 AS transfer,
                (SELECT (MAX(x.ended_at) - MIN(x.started_at)) / 1000.0 FROM timings x WHERE x.migration_id = m.id) AS total
           FROM migrations m JOIN timings t ON t.migration_id = m.id AND t.phase = 'image_upload'
          WHERE m.status = 'succeeded' AND m.bytes_total IS NOT NULL AND t.ended_at IS NOT NULL
          ORDER BY m.created_at DESC LIMIT ?`,
      )
      .all(limit) as Row[];
    return rows.map((r) => ({
      bytes: Number(r.bytes),
      transferSeconds: Number(r.transfer),
      totalSeconds: Number(r.total),
    }));
  }

  setProgress(
    id: string,
    p: {
      bytesDone: number;
      bytesTotal: number | null;
      uploadAttempt: number;
      downloadResumes: number;
      transferStartedAt?: number;
    },
  ): void {
    this.#update(id, {
      bytes_done: p.bytesDone,
      bytes_total: p.bytesTotal,
      upload_attempt: p.uploadAttempt,
      download_resumes: p.downloadResumes,
      ...(p.transferStartedAt !== undefined && { transfer_started_at: p.transferStartedAt }),
    });
  }

  /** Writes a resource down before it is created; returns its sequence number. */
  intend(
    id: string,
    r: { side: ResourceSide; kind: ResourceKind; name: string; owned: boolean; resourceId?: string },
  ): number {
    return this.#tx(() => {
      const row = this.#db
        .prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM resources WHERE migration_id = ?")
        .get(id) as Row;
      const seq = Number(row.next);
      this.#db
        .prepare(
          "INSERT INTO resources (migration_id, seq, side, kind, name, resource_id, state, owned) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          id,
          seq,
          r.side,
          r.kind,
          r.name,
          r.resourceId ?? null,
          r.resourceId === undefined ? "creating" : "present",
          r.owned ? 1 : 0,
        );
      return seq;
    });
  }

  created(id: string, seq: number, resourceId: string): void {
    this.#db
      .prepare("UPDATE resources SET resource_id = ?, state = 'present' WHERE migration_id = ? AND seq = ?")
      .run(resourceId, id, seq);
  }

  deleted(id: string, seq: number): void {
    this.#db
      .prepare("UPDATE resources SET state = 'deleted' WHERE migration_id = ? AND seq = ?")
      .run(id, seq);
  }

  resources(id: string): JournalResource[] {
    return (
      this.#db.prepare("SELECT * FROM resources WHERE migration_id = ? ORDER BY seq").all(id) as Row[]
    ).map((r) => ({
      seq: Number(r.seq),
      side: String(r.side) as ResourceSide,
      kind: String(r.kind) as ResourceKind,
      name: String(r.name),
      id: r.resource_id === null ? null : String(r.resource_id),
      state: String(r.state) as JournalResource["state"],
      owned: Number(r.owned) === 1,
    }));
  }

  phaseStarted(id: string, phase: TimedPhase, at: number = this.#now()): void {
    this.#db
      .prepare(
        "INSERT OR REPLACE INTO timings (migration_id, phase, started_at, ended_at) VALUES (?, ?, ?, NULL)",
      )
      .run(id, phase, at);
  }

  phaseEnded(id: string, phase: TimedPhase, at: number = this.#now()): void {
    this.#db
      .prepare("UPDATE timings SET ended_at = ? WHERE migration_id = ? AND phase = ?")
      .run(at, id, phase);
  }

  timings(id: string): { phase: TimedPhase; startedAt: number; endedAt: number | null }[] {
    return (
      this.#db.prepare("SELECT * FROM timings WHERE migration_id = ? ORDER BY started_at").all(id) as Row[]
    ).map((r) => ({
      phase: String(r.phase) as TimedPhase,
      startedAt: Number(r.started_at),
      endedAt: r.ended_at === null ? null : Number(r.ended_at),
    }));
  }

  event(id: string, type: string, data: Record<string, unknown>): JournalEvent {
    return this.#tx(() => this.#events.append(id, this.#now(), type, data));
  }

  eventsAfter(id: string, seq: number): JournalEvent[] {
    return this.#events.after(id, seq);
  }

  saveManifest(id: string, manifest: Manifest): void {
    this.#tx(() => {
      this.#db.prepare("DELETE FROM manifest_chunks WHERE migration_id = ?").run(id);
      const insert = this.#db.prepare(
        "INSERT INTO manifest_chunks (migration_id, idx, offset, length, sha256) VALUES (?, ?, ?, ?, ?)",
      );
      for (const c of manifest.chunks) insert.run(id, c.index, c.offset, c.length, c.sha256);
      this.#update(id, { image_hash_algo: manifest.imageHash.algo, image_hash: manifest.imageHash.value });
    });
  }

  manifestChunks(id: string): ManifestChunk[] {
    return (
      this.#db.prepare("SELECT * FROM manifest_chunks WHERE migration_id = ? ORDER BY idx").all(id) as Row[]
    ).map((r) => ({
      index: Number(r.idx),
      offset: Number(r.offset),
      length: Number(r.length),
      sha256: String(r.sha256),
    }));
  }
}

function record(r: Row): MigrationRecord {
  return {
    id: String(r.id),
    member: String(r.member),
    request: JSON.parse(String(r.request)) as MigrationRequest,
    status: String(r.status) as MigrationStatus,
    step: String(r.step) as Step,
    committed: Number(r.committed) === 1,
    clusterId: r.cluster_id === null ? null : String(r.cluster_id),
    error: r.error_code === null ? null : { code: String(r.error_code), message: String(r.error_message) },
    bytesTotal: r.bytes_total === null ? null : Number(r.bytes_total),
    bytesDone: Number(r.bytes_done),
    uploadAttempt: Number(r.upload_attempt),
    downloadResumes: Number(r.download_resumes),
    transferStartedAt: r.transfer_started_at === null ? null : Number(r.transfer_started_at),
    releaseAttempt: Number(r.release_attempt),
    clusterMigrationId: r.cluster_migration_id === null ? null : String(r.cluster_migration_id),
    imageHash:
      r.image_hash === null ? null : { algo: String(r.image_hash_algo), value: String(r.image_hash) },
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
