import type { OvsBridge, OvsInterface, OvsPort, OvsState, OvsUuids, StringMap } from "./model.ts";
import { MANAGED_BRIDGES, OWNER_KEY } from "./names.ts";

/** One ovs-vsctl command (the words between two `--`). */
export type OvsCommand = readonly string[];

export interface OvsPlan {
  /** Bridges, ports, interfaces: one transaction. */
  commands: OvsCommand[];
  /**
   * Controller changes, kept apart: a controller added before the underlay address exists fails
   * its first connection and OVS then backs off for a second (see apply.ts).
   */
  controllerCommands: OvsCommand[];
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

/**
 * The fewest ovs-vsctl commands that turn `observed` into `desired` for vm-init's bridges
 * (icbond0, icbr0). A managed bridge absent from `desired` is deleted (teardown); bridges with
 * other names are never touched. Existing rows are updated in place, so their _uuids, and the
 * ports OVS built from them, survive.
 */
export function planOvs(desired: OvsState, observed: OvsState, uuids: OvsUuids): OvsPlan {
  const plan: OvsPlan = { commands: [], controllerCommands: [] };
  const ids = { next: 0 };
  for (const b of observed.bridges) {
    if (MANAGED_BRIDGES.includes(b.name) && !desired.bridges.some((d) => d.name === b.name)) {
      plan.commands.push(["--if-exists", "del-br", b.name]);
    }
  }
  for (const want of desired.bridges) {
    const have = observed.bridges.find((b) => b.name === want.name);
    if (have) planBridgeChanges(plan, want, have, uuids, ids);
    else planNewBridge(plan, want, ids);
  }
  return plan;
}

function planNewBridge(plan: OvsPlan, want: OvsBridge, ids: { next: number }): void {
  plan.commands.push(["--may-exist", "add-br", want.name]);
  plan.commands.push(["set", "Bridge", want.name, ...bridgeColumns(want)]);
  for (const port of want.ports) addPort(plan, want.name, port);
  for (const c of want.controllers) addController(plan, want.name, c.target, c.maxBackoff, ids);
}

function bridgeColumns(b: OvsBridge): string[] {
  const cols = [`datapath_type=${q(b.datapathType)}`];
  if (b.protocols.length > 0) cols.push(`protocols=${setValue(b.protocols)}`);
  if (b.failMode !== undefined) cols.push(`fail_mode=${q(b.failMode)}`);
  for (const [k, v] of Object.entries(b.otherConfig)) cols.push(`other_config:${k}=${q(v)}`);
  for (const [k, v] of Object.entries(b.externalIds)) cols.push(`external_ids:${k}=${q(v)}`);
  return cols;
}

function planBridgeChanges(
  plan: OvsPlan,
  want: OvsBridge,
  have: OvsBridge,
  uuids: OvsUuids,
  ids: { next: number },
): void {
  const set: string[] = [];
  const clear: OvsCommand[] = [];
  if (want.datapathType !== have.datapathType) set.push(`datapath_type=${q(want.datapathType)}`);
  if (!sameList(want.protocols, have.protocols)) set.push(`protocols=${setValue(want.protocols)}`);
  if (want.failMode !== have.failMode) {
    if (want.failMode === undefined) clear.push(["clear", "Bridge", want.name, "fail_mode"]);
    else set.push(`fail_mode=${q(want.failMode)}`);
  }
  mapChanges(want.otherConfig, have.otherConfig, OWNED_KEYS.bridgeOtherConfig, "other_config", set, (k) =>
    clear.push(["remove", "Bridge", want.name, "other_config", k]),
  );
  mapChanges(want.externalIds, have.externalIds, OWNED_KEYS.bridgeExternalIds, "external_ids", set, (k) =>
    clear.push(["remove", "Bridge", want.name, "external_ids", k]),
  );
  if (set.length > 0) plan.commands.push(["set", "Bridge", want.name, ...set]);
  plan.commands.push(...clear);

  // Deletions first: a NIC leaving a plain port may join a bond in the same transaction.
  const wantPorts = new Map(want.ports.map((p) => [p.name, p]));
  for (const p of have.ports) {
    if (p.name !== want.name && !wantPorts.has(p.name))
      plan.commands.push(["--if-exists", "del-port", want.name, p.name]);
  }
  for (const p of want.ports) {
    const old = have.ports.find((h) => h.name === p.name);
    if (old) planPortChanges(plan, p, old, uuids, ids);
    else addPort(plan, want.name, p);
  }

  const wantTargets = new Map(want.controllers.map((c) => [c.target, c]));
  for (const c of have.controllers) {
    const uuid = uuids.controller.get(`${have.name} ${c.target}`);
    const w = wantTargets.get(c.target);
    if (!w && uuid) plan.controllerCommands.push(["remove", "Bridge", want.name, "controller", uuid]);
    else if (w && uuid && w.maxBackoff !== c.maxBackoff) {
      plan.controllerCommands.push(
        w.maxBackoff === undefined
          ? ["clear", "Controller", uuid, "max_backoff"]
          : ["set", "Controller", uuid, `max_backoff=${w.maxBackoff}`],
      );
    }
  }
  for (const c of want.controllers) {
    if (!have.controllers.some((h) => h.target === c.target))
      addController(plan, want.name, c.target, c.maxBackoff, ids);
  }
}

function addController(
  plan: OvsPlan,
  bridge: string,
  target: string,
  maxBackoff: number | undefined,
  ids: { next: number },
): void {
  const id = `@ctl${ids.next++}`;
  const cols = [`target=${q(target)}`];
  if (maxBackoff !== undefined) cols.push(`max_backoff=${maxBackoff}`);
  plan.controllerCommands.push([`--id=${id}`, "create", "Controller", ...cols]);
  plan.controllerCommands.push(["add", "Bridge", bridge, "controller", id]);
}

function addPort(plan: OvsPlan, bridge: string, port: OvsPort): void {
  // The local port comes with the bridge; it only needs its interface columns.
  if (port.name !== bridge) {
    if (port.interfaces.length === 1 && port.interfaces[0]!.name === port.name) {
      plan.commands.push(["--may-exist", "add-port", bridge, port.name]);
    } else {
      plan.commands.push([
        "--may-exist",
        "add-bond",
        bridge,
        port.name,
        ...port.interfaces.map((i) => i.name),
      ]);
    }
    const cols = portColumns(port, undefined);
    if (cols.set.length > 0) plan.commands.push(["set", "Port", port.name, ...cols.set]);
  }
  for (const i of port.interfaces) {
    // add-br made the local interface already (internal); compare with that, not with nothing.
    const cols = interfaceColumns(
      i,
      port.name === bridge ? { name: i.name, type: "internal", options: {} } : undefined,
    );
    if (cols.set.length > 0) plan.commands.push(["set", "Interface", i.name, ...cols.set]);
  }
}

function planPortChanges(
  plan: OvsPlan,
  want: OvsPort,
  have: OvsPort,
  uuids: OvsUuids,
  ids: { next: number },
): void {
  const cols = portColumns(want, have);
  if (cols.set.length > 0) plan.commands.push(["set", "Port", want.name, ...cols.set]);
  plan.commands.push(...cols.clear);
  // Only a bond changes members in place; a plain port's one interface is its name.
  for (const i of have.interfaces) {
    const uuid = uuids.interface.get(i.name);
    if (!want.interfaces.some((w) => w.name === i.name) && uuid) {
      plan.commands.push(["remove", "Port", want.name, "interfaces", uuid]);
    }
  }
  for (const i of want.interfaces) {
    const old = have.interfaces.find((h) => h.name === i.name);
    if (!old) {
      const id = `@if${ids.next++}`;
      plan.commands.push([`--id=${id}`, "create", "Interface", `name=${q(i.name)}`]);
      plan.commands.push(["add", "Port", want.name, "interfaces", id]);
    }
    const ic = interfaceColumns(i, old);
    if (ic.set.length > 0) plan.commands.push(["set", "Interface", i.name, ...ic.set]);
    plan.commands.push(...ic.clear);
  }
}

function portColumns(want: OvsPort, have: OvsPort | undefined): { set: string[]; clear: OvsCommand[] } {
  const set: string[] = [];
  const clear: OvsCommand[] = [];
  optionalColumn(
    "Port",
    want.name,
    "bond_mode",
    want.bondMode,
    have?.bondMode,
    set,
    clear,
    have === undefined,
  );
  optionalColumn("Port", want.name, "lacp", want.lacp, have?.lacp, set, clear, have === undefined);
  mapChanges(
    want.otherConfig,
    have?.otherConfig ?? {},
    OWNED_KEYS.portOtherConfig,
    "other_config",
    set,
    (k) => clear.push(["remove", "Port", want.name, "other_config", k]),
  );
  return { set, clear };
}

function interfaceColumns(
  want: OvsInterface,
  have: OvsInterface | undefined,
): { set: string[]; clear: OvsCommand[] } {
  const set: string[] = [];
  const clear: OvsCommand[] = [];
  const fresh = have === undefined;
  if (want.type !== (have?.type ?? "")) set.push(`type=${q(want.type)}`);
  // options are all ours (tunnel settings): compared and written whole.
  if (!sameMap(want.options, have?.options ?? {})) set.push(`options=${mapValue(want.options)}`);
  optionalColumn(
    "Interface",
    want.name,
    "ofport_request",
    want.ofportRequest,
    have?.ofportRequest,
    set,
    clear,
    fresh,
  );
  optionalColumn("Interface", want.name, "mtu_request", want.mtuRequest, have?.mtuRequest, set, clear, fresh);
  optionalColumn("Interface", want.name, "mac", want.mac, have?.mac, set, clear, fresh);
  return { set, clear };
}

function optionalColumn(
  table: string,
  record: string,
  column: string,
  want: string | number | undefined,
  have: string | number | undefined,
  set: string[],
  clear: OvsCommand[],
  fresh: boolean,
): void {
  if (want === have) return;
  if (want === undefined) {
    if (!fresh) clear.push(["clear", table, record, column]);
  } else set.push(`${column}=${typeof want === "number" ? String(want) : q(want)}`);
}

function mapChanges(
  want: StringMap,
  have: StringMap,
  owned: readonly string[],
  column: string,
  set: string[],
  remove: (key: string) => void,
): void {
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) set.push(`${column}:${k}=${q(v)}`);
  for (const k of owned) if (want[k] === undefined && have[k] !== undefined) remove(k);
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

/** ovs-vsctl's quoted-string syntax: safe for any value (colons in MACs and targets included). */
export function q(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function setValue(items: readonly string[]): string {
  return `[${items.map(q).join(",")}]`;
}

function mapValue(m: StringMap): string {
  return `{${Object.entries(m)
    .map(([k, v]) => `${q(k)}=${q(v)}`)
    .join(",")}}`;
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
): { remove: OvsCommand[]; add: OvsCommand[] } {
  const remove: OvsCommand[] = [];
  for (const c of observed.controllers) {
    const uuid = uuids.controller.get(`${observed.name} ${c.target}`);
    if (uuid) remove.push(["remove", "Bridge", observed.name, "controller", uuid]);
  }
  const add: OvsPlan = { commands: [], controllerCommands: [] };
  const ids = { next: 0 };
  for (const c of desired.controllers) addController(add, desired.name, c.target, c.maxBackoff, ids);
  return { remove, add: add.controllerCommands };
}
