import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { DowntimeReport, PhaseReport } from "../../contract/controller-api/index.ts";
import { splitDatapathId, type TunnelType } from "../../contract/dataplane/index.ts";
import { WalSync } from "../../contract/storage/wal-sync.ts";
import { ControllerError, fieldPath } from "../errors.ts";
import type { Cluster } from "../model/cluster.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import { type Member, memberOf } from "../model/member.ts";
import type {
  LinkingRecord,
  RebindCompletion,
  RebindCompletionReport,
  RebindRecord,
  RebindResult,
} from "./records.ts";
import { json, num, numOrNull, type Row, text, textOrNull } from "./rows.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

export interface ClusterStoreOptions {
  /** Clock for history timestamps (tests pin it). */
  readonly now?: () => Date;
}

type Params = Record<string, SQLInputValue>;

const MEMBER_COLUMNS = `m.cluster_id, m.vm_id, m.vint0, m.endpoint, m.next_endpoint, m.description, c.vni`;
const REBIND_COLUMNS = `id, cluster_id, vm_id, old_endpoint, new_endpoint, update_ms, result, at, completion, total_ms,
  cleanup, downtime`;

/**
 * The controller's desired state and history on SQLite (node:sqlite). Every write runs in a
 * transaction, so a refused change (a constraint, a thrown error) leaves nothing half-applied.
 * Synchronous on purpose: writes are small and rare, and a sync API cannot interleave two
 * transactions on one connection.
 *
 * Durability is asynchronous: a commit does not fsync (WAL, `synchronous = NORMAL`), `durable()`
 * does, off the event loop, and a write is acknowledged only once it resolves (api/app.ts). A
 * commit's fsync took 1 to 17 ms on the CI machine, and more under load, with the event loop
 * stopped for all of it: every OpenFlow echo, probe and other request waited. A process killed
 * after a commit loses nothing either way (the WAL is in the page cache); a power loss loses only
 * writes not yet acknowledged.
 */
export class ClusterStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #now: () => Date;
  readonly #statements = new Map<string, StatementSync>();
  /**
   * clusterState() results: a rebind reads its cluster under the lock, and reading 1,000 members
   * from SQLite takes about 2 ms. A member's insert, update or delete patches its entry after the
   * write; other writes drop it (before writing); any rollback drops them all, so no entry
   * outlives a write that did not commit.
   */
  readonly #states = new Map<string, ClusterState>();
  #depth = 0;
  readonly #sync: WalSync;

  private constructor(path: string, db: DatabaseSync, now: () => Date) {
    this.path = path;
    this.#db = db;
    this.#now = now;
    this.#sync = new WalSync(
      path,
      db,
      (message, cause) => new ControllerError("STORE_FAILED", message, { cause }),
    );
  }

  /** Opens (creating if needed) the database at `path` (":memory:" for a throwaway one) and migrates it. */
  static open(path: string, options: ClusterStoreOptions = {}): ClusterStore {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (err) {
      throw new ControllerError("STORE_FAILED", `cannot open database ${path}: ${message(err)}`, {
        cause: err,
      });
    }
    const store = new ClusterStore(path, db, options.now ?? (() => new Date()));
    try {
      store.#configure();
      store.#migrate();
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  #configure(): void {
    this.#db.exec("PRAGMA foreign_keys = ON");
    // WAL: readers never wait for the writer, and a crash mid-write leaves the last commit intact.
    // NORMAL: commits do not fsync on the event loop; durable() does, off it.
    if (this.path !== ":memory:") {
      this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec("PRAGMA synchronous = NORMAL");
    }
    this.#db.exec("PRAGMA busy_timeout = 5000");
  }

  #migrate(): void {
    const current = this.schemaVersion();
    if (current > SCHEMA_VERSION) {
      throw new ControllerError(
        "STORE_FAILED",
        `database ${this.path} has schema v${current}, newer than this controller's v${SCHEMA_VERSION}`,
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  schemaVersion(): number {
    return num(this.#db.prepare("PRAGMA user_version").get() as Row, "user_version");
  }

  /** Closing checkpoints the WAL into the database file and syncs it: every commit is on disk. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
    this.#sync.close();
  }

  /**
   * Resolves once every transaction committed before the call is on disk (the WAL's fdatasync, on
   * libuv's thread pool; the event loop goes on meanwhile). At once when nothing was committed
   * since the last sync; calls made while one runs share the next.
   */
  durable(): Promise<void> {
    return this.#sync.durable();
  }

  /** True when the database answers a query (for /readyz). */
  isHealthy(): boolean {
    try {
      return this.#db.isOpen && this.#db.prepare("SELECT 1 AS ok").get() !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * Runs `fn` in a transaction (a savepoint when nested): all of its writes commit, or none do.
   * `fn` must be synchronous; a promise would escape the transaction.
   */
  transaction<T>(fn: () => T): T {
    const savepoint = `sp${this.#depth}`;
    this.#db.exec(this.#depth === 0 ? "BEGIN IMMEDIATE" : `SAVEPOINT ${savepoint}`);
    this.#depth++;
    let result: T;
    try {
      result = fn();
      if (result instanceof Promise) throw new TypeError("ClusterStore.transaction: fn must be synchronous");
    } catch (err) {
      this.#depth--;
      this.#states.clear();
      this.#db.exec(this.#depth === 0 ? "ROLLBACK" : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
      throw err;
    }
    this.#depth--;
    this.#db.exec(this.#depth === 0 ? "COMMIT" : `RELEASE ${savepoint}`);
    return result;
  }

  // ---- clusters

  /** Inserts a cluster and its first members atomically. */
  insertCluster(cluster: Cluster, members: readonly Member[] = []): void {
    this.#states.delete(cluster.id);
    this.transaction(() => {
      this.#run(
        "INSERT INTO clusters (id, vni, tunnel, description) VALUES (:id, :vni, :tunnel, :description)",
        { id: cluster.id, vni: cluster.vni, tunnel: cluster.tunnel, description: cluster.description },
        "",
      );
      members.forEach((m, i) => {
        this.#insertMember(m, `members[${i}]`);
      });
    });
  }

  getCluster(id: string): Cluster | undefined {
    const row = this.#get("SELECT id, vni, tunnel, description FROM clusters WHERE id = :id", { id });
    return row && clusterFromRow(row);
  }

  clusterByVni(vni: number): Cluster | undefined {
    const row = this.#get("SELECT id, vni, tunnel, description FROM clusters WHERE vni = :vni", { vni });
    return row && clusterFromRow(row);
  }

  listClusters(): Cluster[] {
    return this.#all("SELECT id, vni, tunnel, description FROM clusters ORDER BY id", {}).map(clusterFromRow);
  }

  /** Only the description is mutable: id, VNI and tunnel name what is running in the VMs. */
  updateClusterDescription(id: string, description: string): void {
    this.#states.delete(id);
    this.transaction(() => {
      const changes = this.#run(
        "UPDATE clusters SET description = :description WHERE id = :id",
        { id, description },
        "",
      );
      if (changes === 0) throw notFoundCluster(id);
    });
  }

  /** Deletes an empty cluster; a cluster with members is a conflict (delete them first). */
  deleteCluster(id: string): void {
    this.#states.delete(id);
    this.transaction(() => {
      const count = num(this.#get("SELECT count(*) AS n FROM members WHERE cluster_id = :id", { id })!, "n");
      if (count > 0) {
        throw new ControllerError(
          "CONFLICT",
          `members: cluster '${id}' still has ${count} member(s); delete them first`,
          {
            field: "members",
          },
        );
      }
      const changes = this.#run("DELETE FROM clusters WHERE id = :id", { id }, "");
      if (changes === 0) throw notFoundCluster(id);
    });
  }

  clusterState(id: string): ClusterState | undefined {
    const cached = this.#states.get(id);
    if (cached) return cached;
    const cluster = this.getCluster(id);
    if (!cluster) return undefined;
    const state: ClusterState = { cluster, members: this.listMembers(id) };
    this.#states.set(id, state);
    return state;
  }

  // ---- members

  insertMember(member: Member): void {
    this.transaction(() => this.#insertMember(member, ""));
    this.#patchState(member.clusterId, (members) => {
      // In vm_id order, as listMembers reads them.
      let at = members.findIndex((m) => m.vmId > member.vmId);
      if (at < 0) at = members.length;
      return [...members.slice(0, at), member, ...members.slice(at)];
    });
  }

  #insertMember(m: Member, prefix: string): void {
    this.#run(
      `INSERT INTO members (cluster_id, vm_id, vint0, endpoint, next_endpoint, description)
       VALUES (:clusterId, :vmId, :vint0, :endpoint, :nextEndpoint, :description)`,
      {
        clusterId: m.clusterId,
        vmId: m.vmId,
        vint0: m.vint0,
        endpoint: m.endpoint,
        nextEndpoint: m.nextEndpoint,
        description: m.description,
      },
      prefix,
    );
  }

  getMember(clusterId: string, vmId: string): Member | undefined {
    const row = this.#get(
      `SELECT ${MEMBER_COLUMNS} FROM members m JOIN clusters c ON c.id = m.cluster_id
       WHERE m.cluster_id = :clusterId AND m.vm_id = :vmId`,
      { clusterId, vmId },
    );
    return row && memberFromRow(row);
  }

  listMembers(clusterId: string): Member[] {
    return this.#all(
      `SELECT ${MEMBER_COLUMNS} FROM members m JOIN clusters c ON c.id = m.cluster_id
       WHERE m.cluster_id = :clusterId ORDER BY m.vm_id`,
      { clusterId },
    ).map(memberFromRow);
  }

  /** Every member of every cluster, ordered by cluster then VM. */
  allMembers(): Member[] {
    return this.#all(
      `SELECT ${MEMBER_COLUMNS} FROM members m JOIN clusters c ON c.id = m.cluster_id ORDER BY m.cluster_id, m.vm_id`,
      {},
    ).map(memberFromRow);
  }

  /** The member whose switch has this datapath id, if any: how a connecting switch is recognised. */
  memberByDpid(dpid: bigint): Member | undefined {
    const { vni, vint0 } = splitDatapathId(dpid);
    const row = this.#get(
      `SELECT ${MEMBER_COLUMNS} FROM members m JOIN clusters c ON c.id = m.cluster_id
       WHERE c.vni = :vni AND m.vint0 = :vint0`,
      { vni, vint0 },
    );
    return row && memberFromRow(row);
  }

  /** Writes a member's mutable fields (endpoint, next endpoint, description). */
  updateMember(member: Member): void {
    this.transaction(() => {
      const changes = this.#run(
        `UPDATE members SET endpoint = :endpoint, next_endpoint = :nextEndpoint, description = :description
         WHERE cluster_id = :clusterId AND vm_id = :vmId`,
        {
          clusterId: member.clusterId,
          vmId: member.vmId,
          endpoint: member.endpoint,
          nextEndpoint: member.nextEndpoint,
          description: member.description,
        },
        "",
      );
      if (changes === 0) throw notFoundMember(member.clusterId, member.vmId);
    });
    const { endpoint, nextEndpoint, description } = member;
    this.#patchState(member.clusterId, (members) =>
      members.map((m) => (m.vmId === member.vmId ? { ...m, endpoint, nextEndpoint, description } : m)),
    );
  }

  deleteMember(clusterId: string, vmId: string): void {
    this.transaction(() => {
      const changes = this.#run(
        "DELETE FROM members WHERE cluster_id = :clusterId AND vm_id = :vmId",
        { clusterId, vmId },
        "",
      );
      if (changes === 0) throw notFoundMember(clusterId, vmId);
    });
    this.#patchState(clusterId, (members) => members.filter((m) => m.vmId !== vmId));
  }

  /**
   * A committed member change, applied to the cached state: a 5,000-member cluster is not read
   * back from SQLite after each one (about 10 ms). Inside an outer transaction the patch is dropped
   * with every cached state if that transaction rolls back.
   */
  #patchState(clusterId: string, change: (members: readonly Member[]) => readonly Member[]): void {
    const cached = this.#states.get(clusterId);
    if (cached) this.#states.set(clusterId, { ...cached, members: change(cached.members) });
  }

  // ---- history

  recordLinking(report: { clusterId: string; vmId: string; linkingMs: number }): LinkingRecord {
    const at = this.#now().toISOString();
    const id = this.transaction(() => {
      this.#run(
        "INSERT INTO linking_reports (cluster_id, vm_id, linking_ms, at) VALUES (:clusterId, :vmId, :linkingMs, :at)",
        { ...report, at },
        "",
      );
      return this.#lastId();
    });
    return { id, ...report, at };
  }

  listLinking(filter: { clusterId?: string; vmId?: string } = {}): LinkingRecord[] {
    return this.#all(
      `SELECT id, cluster_id, vm_id, linking_ms, at FROM linking_reports
       WHERE (:clusterId IS NULL OR cluster_id = :clusterId) AND (:vmId IS NULL OR vm_id = :vmId) ORDER BY id`,
      { clusterId: filter.clusterId ?? null, vmId: filter.vmId ?? null },
    ).map((r) => ({
      id: num(r, "id"),
      clusterId: text(r, "cluster_id"),
      vmId: text(r, "vm_id"),
      linkingMs: num(r, "linking_ms"),
      at: text(r, "at"),
    }));
  }

  /** A rebind attempt; an ok one is pending until completeRebind, a failed one is done at once. */
  recordRebind(
    entry: Omit<RebindRecord, "id" | "at" | "completion" | "cleanup" | "totalMs" | "downtime">,
  ): RebindRecord {
    const at = this.#now().toISOString();
    const completion: RebindCompletion = entry.result === "ok" ? "pending" : "done";
    const id = this.transaction(() => {
      this.#run(
        `INSERT INTO rebinds (cluster_id, vm_id, old_endpoint, new_endpoint, update_ms, result, at, completion)
         VALUES (:clusterId, :vmId, :oldEndpoint, :newEndpoint, :updateMs, :result, :at, :completion)`,
        { ...entry, at, completion },
        "",
      );
      return this.#lastId();
    });
    return { id, ...entry, at, completion, cleanup: null, totalMs: null, downtime: null };
  }

  /** The work after rebind `id`'s answer has ended: writes what it found, once. */
  completeRebind(id: number, report: RebindCompletionReport): void {
    this.transaction(() => {
      this.#run(
        `UPDATE rebinds SET completion = 'done', total_ms = :totalMs, cleanup = :cleanup, downtime = :downtime
         WHERE id = :id AND completion = 'pending'`,
        {
          id,
          totalMs: report.totalMs,
          cleanup: report.cleanup && JSON.stringify(report.cleanup),
          downtime: report.downtime && JSON.stringify(report.downtime),
        },
        "",
      );
    });
  }

  /**
   * Rebinds left pending by a controller that stopped before their cleanup ended: nothing will
   * complete them (their switches are reconciled to the store when they reconnect). Called at start.
   */
  endInterruptedRebinds(): number {
    return this.transaction(() =>
      this.#run(`UPDATE rebinds SET completion = 'done' WHERE completion = 'pending'`, {}, ""),
    );
  }

  listRebinds(filter: { clusterId?: string; vmId?: string } = {}): RebindRecord[] {
    return this.#all(
      `SELECT ${REBIND_COLUMNS} FROM rebinds
       WHERE (:clusterId IS NULL OR cluster_id = :clusterId) AND (:vmId IS NULL OR vm_id = :vmId) ORDER BY id`,
      { clusterId: filter.clusterId ?? null, vmId: filter.vmId ?? null },
    ).map(rebindOf);
  }

  getRebind(id: number): RebindRecord | undefined {
    const row = this.#get(`SELECT ${REBIND_COLUMNS} FROM rebinds WHERE id = :id`, { id });
    return row && rebindOf(row);
  }

  // ---- plumbing

  #statement(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  #get(sql: string, params: Params): Row | undefined {
    return this.#statement(sql).get(params) as Row | undefined;
  }

  #all(sql: string, params: Params): Row[] {
    return this.#statement(sql).all(params) as Row[];
  }

  /** Runs a write; a constraint failure becomes a ControllerError naming the field (under `prefix`). */
  #run(sql: string, params: Params, prefix: string): number {
    try {
      return Number(this.#statement(sql).run(params).changes);
    } catch (err) {
      throw constraintError(err, params, prefix) ?? err;
    }
  }

  #lastId(): number {
    return num(this.#get("SELECT last_insert_rowid() AS id", {})!, "id");
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function notFoundCluster(id: string): ControllerError {
  return new ControllerError("NOT_FOUND", `clusterId: no cluster '${id}'`, { field: "clusterId" });
}

function notFoundMember(clusterId: string, vmId: string): ControllerError {
  return new ControllerError("NOT_FOUND", `vmId: cluster '${clusterId}' has no member '${vmId}'`, {
    field: "vmId",
  });
}

/** UNIQUE failures name their columns ("members.cluster_id, members.vint0"): the last is the field. */
const UNIQUE_FIELDS: Record<string, string> = {
  "clusters.id": "id",
  "clusters.vni": "vni",
  "members.vm_id": "vmId",
  "members.vint0": "vint0",
  "members.endpoint": "endpoint",
};

function constraintError(err: unknown, params: Params, prefix: string): ControllerError | undefined {
  if (!(err instanceof Error) || !("errstr" in err) || err.errstr !== "constraint failed") return undefined;
  const unique = /UNIQUE constraint failed: (.+)$/.exec(err.message);
  if (unique) {
    const column = unique[1]!.split(", ").at(-1)!;
    const name = UNIQUE_FIELDS[column] ?? column;
    const field = fieldPath(prefix, name);
    const value = params[name];
    return new ControllerError("CONFLICT", `${field}: ${String(value)} is already taken`, {
      field,
      cause: err,
    });
  }
  if (/FOREIGN KEY constraint failed/.test(err.message)) {
    const clusterId = String(params.clusterId ?? params.id);
    return new ControllerError("NOT_FOUND", `clusterId: no cluster '${clusterId}'`, {
      field: "clusterId",
      cause: err,
    });
  }
  return new ControllerError("INVALID_FIELD", err.message, { cause: err });
}

function clusterFromRow(r: Row): Cluster {
  return {
    id: text(r, "id"),
    vni: num(r, "vni"),
    tunnel: text(r, "tunnel") as TunnelType,
    description: text(r, "description"),
  };
}

function memberFromRow(r: Row): Member {
  return memberOf(
    { id: text(r, "cluster_id"), vni: num(r, "vni") },
    {
      vmId: text(r, "vm_id"),
      vint0: text(r, "vint0"),
      endpoint: textOrNull(r, "endpoint"),
      description: text(r, "description"),
    },
    textOrNull(r, "next_endpoint"),
  );
}

function rebindOf(r: Row): RebindRecord {
  return {
    id: num(r, "id"),
    clusterId: text(r, "cluster_id"),
    vmId: text(r, "vm_id"),
    oldEndpoint: textOrNull(r, "old_endpoint"),
    newEndpoint: text(r, "new_endpoint"),
    updateMs: num(r, "update_ms"),
    result: text(r, "result") as RebindResult,
    at: text(r, "at"),
    completion: text(r, "completion") as RebindCompletion,
    cleanup: json<PhaseReport>(r, "cleanup"),
    totalMs: numOrNull(r, "total_ms"),
    downtime: json<DowntimeReport>(r, "downtime"),
  };
}
