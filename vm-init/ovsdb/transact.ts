import { VmInitError } from "../errors.ts";
import { type OvsdbRow, type OvsdbValue, uuid } from "./notation.ts";
import { describeRpcError } from "./rpc.ts";

/**
 * The "transact" method (RFC 7047 sections 4.1.3 and 5.2): operations as plain data, builders for
 * the ones vm-init writes, and the reading of the reply. Pure.
 */
export type Condition = readonly [column: string, fn: "==" | "!=" | "includes" | "excludes", OvsdbValue];
export type Mutation = readonly [column: string, mutator: "+=" | "-=" | "insert" | "delete", OvsdbValue];
export type RowValues = Readonly<Record<string, OvsdbValue>>;

export type Operation =
  | { readonly op: "insert"; readonly table: string; readonly row: RowValues; readonly "uuid-name"?: string }
  | {
      readonly op: "update";
      readonly table: string;
      readonly where: readonly Condition[];
      readonly row: RowValues;
    }
  | {
      readonly op: "mutate";
      readonly table: string;
      readonly where: readonly Condition[];
      readonly mutations: readonly Mutation[];
    }
  | { readonly op: "delete"; readonly table: string; readonly where: readonly Condition[] }
  | {
      readonly op: "select";
      readonly table: string;
      readonly where: readonly Condition[];
      readonly columns?: readonly string[];
    }
  | {
      readonly op: "wait";
      readonly table: string;
      readonly where: readonly Condition[];
      readonly columns: readonly string[];
      readonly until: "==" | "!=";
      readonly rows: readonly RowValues[];
      readonly timeout: number;
    }
  | { readonly op: "comment"; readonly comment: string };

/** What one operation returned: an insert's uuid, a count of rows touched, selected rows. */
export interface OpResult {
  uuid?: string;
  count?: number;
  rows?: OvsdbRow[];
}

export function byUuid(id: string): Condition[] {
  return [["_uuid", "==", uuid(id)]];
}

/** Bridge, Port and Interface rows have unique names (the schema indexes them). */
export function byName(name: string): Condition[] {
  return [["name", "==", name]];
}

export function insertOp(table: string, row: RowValues, uuidName?: string): Operation {
  return uuidName === undefined
    ? { op: "insert", table, row }
    : { op: "insert", table, row, "uuid-name": uuidName };
}

export function updateOp(table: string, where: readonly Condition[], row: RowValues): Operation {
  return { op: "update", table, where, row };
}

export function mutateOp(
  table: string,
  where: readonly Condition[],
  mutations: readonly Mutation[],
): Operation {
  return { op: "mutate", table, where, mutations };
}

/**
 * Fails the whole transaction unless the row selected by `where` exists with `values`: the check
 * that what was read is still there (ovs-vsctl's "verify"). `timeout: 0`: a test, not a wait.
 */
export function expectOp(table: string, where: readonly Condition[], values: RowValues): Operation {
  return { op: "wait", table, where, columns: Object.keys(values), until: "==", rows: [values], timeout: 0 };
}

/** `["Open_vSwitch", op...]`: the params of a transact request. */
export function transactParams(db: string, ops: readonly Operation[]): unknown[] {
  return [db, ...ops];
}

/** Names a row for an error message: "Interface vint0" rather than its uuid. */
export type RowNamer = (table: string, id: string) => string | undefined;

/** "insert Port vint0", "update Interface vint0", "mutate Bridge icbr0". */
export function describeOp(op: Operation, nameOf: RowNamer): string {
  if (op.op === "comment") return "comment";
  if (op.op === "insert") {
    const name = op.row.name;
    return typeof name === "string" ? `insert ${op.table} ${name}` : `insert ${op.table}`;
  }
  const cond = op.where[0];
  if (cond?.[0] === "name" && typeof cond[2] === "string") return `${op.op} ${op.table} ${cond[2]}`;
  if (cond?.[0] === "_uuid" && Array.isArray(cond[2]) && cond[2][0] === "uuid") {
    const id = cond[2][1] as string;
    return `${op.op} ${op.table} ${nameOf(op.table, id) ?? id}`;
  }
  return `${op.op} ${op.table}`;
}

/**
 * Reads a transact reply (RFC 7047 4.1.3): one result per operation; the first failing one holds
 * {error, details} and those after it are null; a failure at commit (referential integrity, a
 * constraint) comes as one extra element. Throws VmInitError naming the operation and the row:
 * OVS_CONFLICT when a `wait` (expectOp) found the row changed, OVS_COMMAND_FAILED otherwise.
 */
export function checkTransactReply(
  ops: readonly Operation[],
  result: unknown,
  what: string,
  nameOf: RowNamer,
): OpResult[] {
  if (!Array.isArray(result)) {
    throw new VmInitError("OVSDB_PROTOCOL_ERROR", `OVSDB answered "${what}" with ${JSON.stringify(result)}`);
  }
  const failed = result.findIndex((r) => typeof r === "object" && r !== null && "error" in r);
  if (failed >= 0) {
    const detail = describeRpcError(result[failed]);
    const op = ops[failed];
    if (op === undefined) {
      throw new VmInitError("OVS_COMMAND_FAILED", `OVSDB refused to ${what}: ${detail}`);
    }
    const which = `operation ${failed + 1} of ${ops.length} (${describeOp(op, nameOf)})`;
    if (op.op === "wait") {
      throw new VmInitError(
        "OVS_CONFLICT",
        `OVSDB changed while vm-init was going to ${what}: ${which} no longer holds; nothing was written, apply again`,
      );
    }
    throw new VmInitError("OVS_COMMAND_FAILED", `OVSDB refused to ${what}: ${which}: ${detail}`);
  }
  if (result.length < ops.length) {
    throw new VmInitError(
      "OVSDB_PROTOCOL_ERROR",
      `OVSDB answered "${what}" with ${result.length} results for ${ops.length} operations`,
    );
  }
  return ops.map((_, i) => opResult(result[i]));
}

function opResult(r: unknown): OpResult {
  const out: OpResult = {};
  if (typeof r !== "object" || r === null) return out;
  const o = r as Record<string, unknown>;
  if (Array.isArray(o.uuid) && o.uuid[0] === "uuid" && typeof o.uuid[1] === "string") out.uuid = o.uuid[1];
  if (typeof o.count === "number") out.count = o.count;
  if (Array.isArray(o.rows))
    out.rows = o.rows.filter((x): x is OvsdbRow => typeof x === "object" && x !== null);
  return out;
}
