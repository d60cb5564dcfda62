import type { OvsBridge, OvsInterface, OvsPort, OvsSsl, OvsState, OvsUuids, StringMap } from "./model.ts";
import { MANAGED_BRIDGES, OWNER_KEY } from "./names.ts";
import {
  type AtomValue,
  map,
  type NamedUuid,
  namedUuid,
  type OvsdbValue,
  optional,
  set,
  uuid,
} from "./ovsdb/notation.ts";
import {
  byName,
  byUuid,
  insertOp,
  type Mutation,
  mutateOp,
  type Operation,
  type RowValues,
  updateOp,
} from "./ovsdb/transact.ts";

export interface OvsPlan {
  /** Bridges, ports, interfaces: one transaction. */
  ops: Operation[];
  /**
   * Controller changes, kept apart: a controller added before the underlay address exists fails
   * its first connection and OVS then backs off for a second (see apply.ts).
   */
  controllerOps: Operation[];
}

/**
 * Map keys vm-init owns even when the desired map lacks them, so a key it set earlier is removed
 * when the config stops asking for it. Keys outside this list that vm-init did not ask for are
 * left alone (someone else's other_config is not ours to clear).
 */
const OWNED_KEYS = {
  bridgeOtherConfig: ["datapath-id", "disable-in-band", "hwaddr"],
  bridgeExternalIds: [OWNER_KEY],
  portOtherConfig: ["lacp-fallback-ab"],
} as const;

/** The Open_vSwitch table has exactly one row: an empty condition selects it. */
const ROOT = { table: "Open_vSwitch", where: [] } as const;

/** Names for rows inserted in one transaction ("uuid-name"), unique within it. */
class Names {
  #next = 0;
  take(prefix: string): string {
    return `${prefix}${this.#next++}`;
  }
}

/**
 * The fewest OVSDB operations that turn `observed` into `desired` for vm-init's bridges (icbond0,
 * icbr0), as ovs-vsctl would have written them (same rows, same columns). A managed bridge absent
 * from `desired` is deleted (teardown); bridges with other names are never touched. Existing rows
 * are updated in place, so their _uuids, and the ports OVS built from them, survive. Rows that lose
 * their last reference (a removed port's interfaces, a removed controller) go with OVSDB's garbage
 * collection, as with ovs-vsctl.
 */
export function planOvs(desired: OvsState, observed: OvsState, uuids: OvsUuids): OvsPlan {
  const plan: OvsPlan = { ops: [], controllerOps: [] };
  const names = new Names();
  for (const b of observed.bridges) {
    const id = uuids.bridge.get(b.name);
    if (MANAGED_BRIDGES.includes(b.name) && !desired.bridges.some((d) => d.name === b.name) && id) {
      plan.ops.push(mutateOp(ROOT.table, ROOT.where, [["bridges", "delete", set([uuid(id)])]]));
    }
  }
  for (const want of desired.bridges) {
    const have = observed.bridges.find((b) => b.name === want.name);
    if (have) planBridgeChanges(plan, want, have, uuids, names);
    else planNewBridge(plan, want, names);
  }
  if (desired.ssl && !sameSsl(desired.ssl, observed.ssl)) {
    // A new SSL row, as `ovs-vsctl set-ssl` writes it; the old one goes with garbage collection.
    const ssl = names.take("ssl");
    const { privateKey, certificate, caCert } = desired.ssl;
    plan.ops.push(insertOp("SSL", { private_key: privateKey, certificate, ca_cert: caCert }, ssl));
    plan.ops.push(updateOp(ROOT.table, ROOT.where, { ssl: namedUuid(ssl) }));
  }
  return plan;
}

function sameSsl(a: OvsSsl, b: OvsSsl | undefined): boolean {
  return (
    b !== undefined &&
    a.privateKey === b.privateKey &&
    a.certificate === b.certificate &&
    a.caCert === b.caCert
  );
}

function planNewBridge(plan: OvsPlan, want: OvsBridge, names: Names): void {
  const ports = want.ports.map((p) => insertPort(plan.ops, p, names));
  const br = names.take("br");
  plan.ops.push(insertOp("Bridge", { name: want.name, ...bridgeColumns(want), ports: set(ports) }, br));
  plan.ops.push(mutateOp(ROOT.table, ROOT.where, [["bridges", "insert", set([namedUuid(br)])]]));
  for (const c of want.controllers) addController(plan, want.name, c.target, c.maxBackoff, names);
}

function bridgeColumns(b: OvsBridge): RowValues {
  const cols: Record<string, OvsdbValue> = { datapath_type: b.datapathType };
  if (b.protocols.length > 0) cols.protocols = set(b.protocols);
  if (b.failMode !== undefined) cols.fail_mode = b.failMode;
  if (Object.keys(b.otherConfig).length > 0) cols.other_config = map(b.otherConfig);
  if (Object.keys(b.externalIds).length > 0) cols.external_ids = map(b.externalIds);
  return cols;
}

function planBridgeChanges(
  plan: OvsPlan,
  want: OvsBridge,
  have: OvsBridge,
  uuids: OvsUuids,
  names: Names,
): void {
  const where = byName(want.name);
  const row: Record<string, OvsdbValue> = {};
  if (want.datapathType !== have.datapathType) row.datapath_type = want.datapathType;
  if (!sameList(want.protocols, have.protocols)) row.protocols = set(want.protocols);
  if (want.failMode !== have.failMode) row.fail_mode = optional(want.failMode);
  if (Object.keys(row).length > 0) plan.ops.push(updateOp("Bridge", where, row));
  const maps = [
    ...mapMutations("other_config", want.otherConfig, have.otherConfig, OWNED_KEYS.bridgeOtherConfig),
    ...mapMutations("external_ids", want.externalIds, have.externalIds, OWNED_KEYS.bridgeExternalIds),
  ];
  if (maps.length > 0) plan.ops.push(mutateOp("Bridge", where, maps));

  // Removals first: a NIC leaving a plain port may join a bond in the same transaction.
  const wantPorts = new Map(want.ports.map((p) => [p.name, p]));
  for (const p of have.ports) {
    const id = uuids.port.get(p.name);
    if (p.name !== want.name && !wantPorts.has(p.name) && id) {
      plan.ops.push(mutateOp("Bridge", where, [["ports", "delete", set([uuid(id)])]]));
    }
  }
  for (const p of want.ports) {
    const old = have.ports.find((h) => h.name === p.name);
    if (old) planPortChanges(plan, p, old, uuids, names);
    else {
      const ref = insertPort(plan.ops, p, names);
      plan.ops.push(mutateOp("Bridge", where, [["ports", "insert", set([ref])]]));
    }
  }

  const wantTargets = new Map(want.controllers.map((c) => [c.target, c]));
  for (const c of have.controllers) {
    const id = uuids.controller.get(`${have.name} ${c.target}`);
    const w = wantTargets.get(c.target);
    if (!id) continue;
    if (!w) plan.controllerOps.push(mutateOp("Bridge", where, [["controller", "delete", set([uuid(id)])]]));
    else if (w.maxBackoff !== c.maxBackoff) {
      plan.controllerOps.push(updateOp("Controller", byUuid(id), { max_backoff: optional(w.maxBackoff) }));
    }
  }
  for (const c of want.controllers) {
    if (!have.controllers.some((h) => h.target === c.target))
      addController(plan, want.name, c.target, c.maxBackoff, names);
  }
}

function addController(
  plan: OvsPlan,
  bridge: string,
  target: string,
  maxBackoff: number | undefined,
  names: Names,
): void {
  const id = names.take("ctl");
  const row: Record<string, OvsdbValue> = { target };
  if (maxBackoff !== undefined) row.max_backoff = maxBackoff;
  plan.controllerOps.push(insertOp("Controller", row, id));
  // By name: the bridge may have been inserted by the transaction before this one.
  plan.controllerOps.push(
    mutateOp("Bridge", byName(bridge), [["controller", "insert", set([namedUuid(id)])]]),
  );
}

/**
 * Inserts a port and its interfaces (ovs-vsctl add-port / add-bond / the local port of add-br:
 * an internal interface of the bridge's name). Returns the port's row name.
 */
function insertPort(ops: Operation[], port: OvsPort, names: Names): NamedUuid {
  const ifaces = port.interfaces.map((i) => {
    const id = names.take("if");
    ops.push(insertOp("Interface", { name: i.name, ...interfaceColumns(i, undefined) }, id));
    return namedUuid(id);
  });
  const id = names.take("port");
  ops.push(
    insertOp("Port", { name: port.name, interfaces: set(ifaces), ...portColumns(port, undefined) }, id),
  );
  return namedUuid(id);
}

function planPortChanges(plan: OvsPlan, want: OvsPort, have: OvsPort, uuids: OvsUuids, names: Names): void {
  const where = byName(want.name);
  const row = portColumns(want, have);
  if (Object.keys(row).length > 0) plan.ops.push(updateOp("Port", where, row));
  const maps = mapMutations("other_config", want.otherConfig, have.otherConfig, OWNED_KEYS.portOtherConfig);
  if (maps.length > 0) plan.ops.push(mutateOp("Port", where, maps));
  // Only a bond changes members in place; a plain port's one interface is its name.
  for (const i of have.interfaces) {
    const id = uuids.interface.get(i.name);
    if (!want.interfaces.some((w) => w.name === i.name) && id) {
      plan.ops.push(mutateOp("Port", where, [["interfaces", "delete", set([uuid(id)])]]));
    }
  }
  for (const i of want.interfaces) {
    const old = have.interfaces.find((h) => h.name === i.name);
    if (!old) {
      const id = names.take("if");
      plan.ops.push(insertOp("Interface", { name: i.name, ...interfaceColumns(i, undefined) }, id));
      plan.ops.push(mutateOp("Port", where, [["interfaces", "insert", set([namedUuid(id)])]]));
    } else {
      const cols = interfaceColumns(i, old);
      if (Object.keys(cols).length > 0) plan.ops.push(updateOp("Interface", byName(i.name), cols));
    }
  }
}

/** Port columns that differ (all that are set, for a new port); other_config goes by mutation. */
function portColumns(want: OvsPort, have: OvsPort | undefined): RowValues {
  const row: Record<string, OvsdbValue> = {};
  optionalColumn(row, "bond_mode", want.bondMode, have?.bondMode);
  optionalColumn(row, "lacp", want.lacp, have?.lacp);
  if (have === undefined && Object.keys(want.otherConfig).length > 0)
    row.other_config = map(want.otherConfig);
  return row;
}

/** Interface columns that differ from `have` (for a new row: from OVSDB's defaults). */
function interfaceColumns(want: OvsInterface, have: OvsInterface | undefined): RowValues {
  const row: Record<string, OvsdbValue> = {};
  const before = have ?? { name: want.name, type: "", options: {} };
  if (want.type !== before.type) row.type = want.type;
  // options are all ours (tunnel settings): compared and written whole.
  if (!sameMap(want.options, before.options)) row.options = map(want.options);
  optionalColumn(row, "ofport_request", want.ofportRequest, have?.ofportRequest);
  optionalColumn(row, "mtu_request", want.mtuRequest, have?.mtuRequest);
  optionalColumn(row, "mac", want.mac, have?.mac);
  return row;
}

/** Sets an optional column that differs; clears it (empty set) when no longer wanted. */
function optionalColumn(
  row: Record<string, OvsdbValue>,
  column: string,
  want: AtomValue | undefined,
  have: AtomValue | undefined,
): void {
  if (want !== have) row[column] = optional(want);
}

/**
 * Changes to one map column as mutations, so keys other writers own are kept: the keys to drop
 * or change are deleted, then the new pairs inserted (an insert never overwrites a key).
 */
function mapMutations(
  column: string,
  want: StringMap,
  have: StringMap,
  owned: readonly string[],
): Mutation[] {
  const changed = Object.entries(want).filter(([k, v]) => have[k] !== v);
  const gone = owned.filter((k) => want[k] === undefined && have[k] !== undefined);
  const drop = [...changed.map(([k]) => k).filter((k) => have[k] !== undefined), ...gone];
  const out: Mutation[] = [];
  if (drop.length > 0) out.push([column, "delete", set(drop)]);
  if (changed.length > 0) out.push([column, "insert", map(Object.fromEntries(changed))]);
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function sameMap(a: StringMap, b: StringMap): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/**
 * Drops and re-creates a bridge's controllers, in two transactions (OVS keeps a connection whose
 * target text is unchanged, so one transaction would not restart it). For a VM that booted with
 * its OVS config intact but without the kernel-side underlay address: OVS's first connection
 * attempts failed and it now backs off, up to 8 s, before trying again.
 */
export function planControllerRestart(
  desired: OvsBridge,
  observed: OvsBridge,
  uuids: OvsUuids,
): { remove: Operation[]; add: Operation[] } {
  const ids = observed.controllers
    .map((c) => uuids.controller.get(`${observed.name} ${c.target}`))
    .filter((id): id is string => id !== undefined);
  const remove =
    ids.length === 0
      ? []
      : [mutateOp("Bridge", byName(observed.name), [["controller", "delete", set(ids.map(uuid))]])];
  const add: OvsPlan = { ops: [], controllerOps: [] };
  const names = new Names();
  for (const c of desired.controllers) addController(add, desired.name, c.target, c.maxBackoff, names);
  return { remove, add: add.controllerOps };
}
