import { join } from "node:path";
import { VmInitError } from "../errors.ts";
import type { OvsObserved } from "../model.ts";
import { OVS_COLUMNS, observedFrom } from "../ovs-observed.ts";
import { OvsdbClient } from "./client.ts";
import { optNumber, str } from "./notation.ts";
import { applyTableUpdates, type Tables } from "./replica.ts";
import {
  byUuid,
  type Condition,
  checkTransactReply,
  expectOp,
  mutateOp,
  type Operation,
  type OpResult,
  transactParams,
} from "./transact.ts";

export const VSWITCH_DB = "Open_vSwitch";
const MONITOR_ID = "icsdn-vm-init";

/** The monitor request for OVS_COLUMNS: initial contents plus every later change. */
export function monitorParams(): unknown[] {
  const requests = Object.fromEntries(Object.entries(OVS_COLUMNS).map(([t, columns]) => [t, { columns }]));
  return [VSWITCH_DB, MONITOR_ID, requests];
}

/**
 * ovs-vsctl's --wait, as operations to append to a transaction: next_cfg += 1, then read it back.
 * ovs-vswitchd copies next_cfg to cur_cfg once it has applied the database.
 */
export function bumpNextCfg(rootUuid: string): Operation[] {
  return [
    mutateOp(VSWITCH_DB, byUuid(rootUuid), [["next_cfg", "+=", 1]]),
    { op: "select", table: VSWITCH_DB, where: byUuid(rootUuid), columns: ["next_cfg"] },
  ];
}

/**
 * ovs-vsctl's "verify", for what vm-init planned from its read: every row an operation selects by
 * name or uuid that the read found must still be there, or the transaction fails as a whole
 * (OVS_CONFLICT) instead of updating nothing. Rows the same transaction inserts are not checked.
 */
export function guardsFor(
  ops: readonly Operation[],
  existed: (table: string, cond: Condition) => boolean,
): Operation[] {
  const out = new Map<string, Operation>();
  for (const op of ops) {
    if (!("where" in op) || op.where.length !== 1) continue;
    const cond = op.where[0]!;
    const [column, fn, value] = cond;
    if (fn !== "==" || (column !== "name" && column !== "_uuid")) continue;
    const key = `${op.table} ${JSON.stringify(value)}`;
    if (out.has(key) || !existed(op.table, cond)) continue;
    out.set(key, expectOp(op.table, [cond], { [column]: value }));
  }
  return [...out.values()];
}

/** `basis` holds the row `cond` selects (Bridge, Port, Interface by name; Controller by uuid). */
export function heldIn(basis: OvsObserved, table: string, cond: Condition): boolean {
  const [column, , value] = cond;
  if (column === "name" && typeof value === "string") {
    const byTable: Record<string, ReadonlyMap<string, string>> = {
      Bridge: basis.uuids.bridge,
      Port: basis.uuids.port,
      Interface: basis.uuids.interface,
    };
    return byTable[table]?.has(value) ?? false;
  }
  if (column === "_uuid" && Array.isArray(value) && table === "Controller") {
    return [...basis.uuids.controller.values()].includes(String(value[1]));
  }
  return false;
}

export interface VswitchOptions {
  /** Milliseconds for connecting, each request, and ovs-vswitchd to apply a waited-for change. */
  timeoutMs: number;
}

/**
 * vm-init's view of the Open_vSwitch database over one OVSDB connection: a monitor keeps a local
 * copy of the tables it reads (one round trip for the initial read, then pushed changes, so
 * waiting for cur_cfg and reading back what ovs-vswitchd built cost no further requests), and
 * transactions go over the same connection. No process is spawned.
 */
export class VswitchDb {
  readonly #client: OvsdbClient;
  readonly #timeoutMs: number;
  readonly #tables: Tables = new Map();
  readonly #waiters = new Set<() => void>();

  private constructor(client: OvsdbClient, opts: VswitchOptions) {
    this.#client = client;
    this.#timeoutMs = opts.timeoutMs;
    client.onNotification((method, params) => {
      if (method !== "update" || params[0] !== MONITOR_ID) return;
      applyTableUpdates(this.#tables, params[1]);
      for (const w of this.#waiters) w();
    });
    client.onFailure(() => {
      for (const w of this.#waiters) w();
    });
  }

  /** Connects to `<rundir>/db.sock` and reads the tables vm-init manages. */
  static async open(rundir: string, opts: VswitchOptions): Promise<VswitchDb> {
    const client = await OvsdbClient.connect(join(rundir, "db.sock"), opts);
    const db = new VswitchDb(client, opts);
    try {
      const initial = await client.request("monitor", monitorParams(), "read the OVS configuration");
      applyTableUpdates(db.#tables, initial);
      db.rootUuid();
    } catch (err) {
      client.close();
      throw err;
    }
    return db;
  }

  /** What the database holds now (as far as the monitor has told). */
  observed(): OvsObserved {
    return observedFrom(this.#tables);
  }

  /** The Open_vSwitch table's one row. */
  rootUuid(): string {
    const root = this.#tables.get(VSWITCH_DB)?.keys().next().value;
    if (root === undefined) {
      throw new VmInitError(
        "OVS_UNAVAILABLE",
        `the Open vSwitch database at ${this.#client.path} has no Open_vSwitch row: it was never initialised (ovs-vsctl init)`,
      );
    }
    return root;
  }

  get curCfg(): number {
    return optNumber(this.#tables.get(VSWITCH_DB)?.get(this.rootUuid())?.cur_cfg) ?? 0;
  }

  /**
   * Runs `ops` as one transaction (all or nothing). With `wait`, also bumps next_cfg and resolves
   * only once ovs-vswitchd has applied the result (cur_cfg caught up), as `ovs-vsctl --wait` does.
   * `basis`: the state `ops` were planned from (default: what the monitor holds now); every row
   * they name that it held must still be there (guardsFor). One result per operation of `ops`.
   */
  async transact(
    ops: readonly Operation[],
    opts: { wait: boolean; what: string; basis?: OvsObserved },
  ): Promise<OpResult[]> {
    const basis = opts.basis;
    const guards = guardsFor(ops, (table, cond) =>
      basis ? heldIn(basis, table, cond) : this.#holds(table, cond),
    );
    const all = [...guards, ...ops, ...(opts.wait ? bumpNextCfg(this.rootUuid()) : [])];
    const reply = await this.#client.request("transact", transactParams(VSWITCH_DB, all), opts.what);
    const results = checkTransactReply(all, reply, opts.what, (table, id) => this.#nameOf(table, id));
    if (opts.wait) {
      const selected = results.at(-1)?.rows?.[0];
      const target = optNumber(selected?.next_cfg);
      if (target === undefined) {
        throw new VmInitError("OVSDB_PROTOCOL_ERROR", `OVSDB did not return next_cfg after "${opts.what}"`);
      }
      await this.waitFor(
        () => this.curCfg >= target,
        `ovs-vswitchd to ${opts.what} (cur_cfg ${target}; is ovs-vswitchd running?)`,
      );
    }
    return results.slice(guards.length, guards.length + ops.length);
  }

  /** Resolves once `ready()` holds, checked now and on every change the monitor reports. */
  waitFor(ready: () => boolean, what: string, timeoutMs = this.#timeoutMs): Promise<void> {
    if (ready()) return Promise.resolve();
    const failure = this.#client.failure;
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const done = (err?: VmInitError) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      // Called on every update, and when the connection ends (no update will come then).
      const check = () => {
        const failure = this.#client.failure;
        if (ready()) done();
        else if (failure)
          done(new VmInitError(failure.code, `${failure.message} (while waiting for ${what})`));
      };
      const timer = setTimeout(
        () => done(new VmInitError("OVS_UNAVAILABLE", `timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      this.#waiters.add(check);
    });
  }

  close(): void {
    this.#client.close();
  }

  /** The replica holds a row that `cond` (by name or by uuid) selects. */
  #holds(table: string, cond: Condition): boolean {
    const rows = this.#tables.get(table);
    if (!rows) return false;
    const [column, , value] = cond;
    if (column === "_uuid") return Array.isArray(value) && rows.has(String(value[1]));
    return [...rows.values()].some((r) => r[column] === value);
  }

  #nameOf(table: string, id: string): string | undefined {
    const row = this.#tables.get(table)?.get(id);
    if (row === undefined) return undefined;
    return table === "Controller" ? str(row.target) : str(row.name) || undefined;
  }
}
