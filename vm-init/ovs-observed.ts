import type {
  OvsBridge,
  OvsController,
  OvsControllerStatus,
  OvsInterface,
  OvsInterfaceStatus,
  OvsObserved,
  OvsPort,
  OvsSsl,
} from "./model.ts";
import { compareNames } from "./names.ts";
import { mapOf, type OvsdbRow, optNumber, optString, setOf, str } from "./ovsdb/notation.ts";
import { rowsOf, type Tables } from "./ovsdb/replica.ts";

/** Columns vm-init reads (monitors) per table of the Open_vSwitch database. */
export const OVS_COLUMNS = {
  Open_vSwitch: ["bridges", "next_cfg", "cur_cfg", "ssl"],
  SSL: ["private_key", "certificate", "ca_cert"],
  Bridge: [
    "name",
    "datapath_type",
    "protocols",
    "fail_mode",
    "other_config",
    "external_ids",
    "controller",
    "ports",
    "datapath_id",
  ],
  Port: ["name", "interfaces", "bond_mode", "lacp", "other_config"],
  Interface: [
    "name",
    "type",
    "options",
    "ofport",
    "ofport_request",
    "mtu",
    "mtu_request",
    "mac",
    "mac_in_use",
    "error",
    "link_state",
    "admin_state",
  ],
  Controller: ["target", "is_connected", "status", "max_backoff"],
} as const satisfies Record<string, readonly string[]>;

export type OvsTableName = keyof typeof OVS_COLUMNS;

/** A row with its identity. */
interface Keyed {
  uuid: string;
  row: OvsdbRow;
}

/** What vm-init cares about in the monitored tables (see OVS_COLUMNS). */
export function observedFrom(tables: Tables): OvsObserved {
  const observed = buildObserved(
    rowsOf(tables, "Bridge"),
    rowsOf(tables, "Port"),
    rowsOf(tables, "Interface"),
    rowsOf(tables, "Controller"),
  );
  const ssl = sslOf(rowsOf(tables, "Open_vSwitch")[0]?.row, rowsOf(tables, "SSL"));
  return ssl ? { ...observed, state: { ...observed.state, ssl } } : observed;
}

/** The SSL row the Open_vSwitch row points at, if any. */
function sslOf(root: OvsdbRow | undefined, sslRows: Keyed[]): OvsSsl | undefined {
  const id = root ? setOf(root.ssl)[0] : undefined;
  const row = id === undefined ? undefined : sslRows.find((r) => r.uuid === String(id))?.row;
  if (!row) return undefined;
  return {
    privateKey: optString(row.private_key) ?? "",
    certificate: optString(row.certificate) ?? "",
    caCert: optString(row.ca_cert) ?? "",
  };
}

function buildObserved(
  bridgeRows: Keyed[],
  portRows: Keyed[],
  ifaceRows: Keyed[],
  controllerRows: Keyed[],
): OvsObserved {
  const ifaceByUuid = new Map(ifaceRows.map((r) => [r.uuid, r.row]));
  const portByUuid = new Map(portRows.map((r) => [r.uuid, r.row]));
  const controllerByUuid = new Map(controllerRows.map((r) => [r.uuid, r.row]));

  const uuids = {
    bridge: new Map<string, string>(),
    port: new Map<string, string>(),
    interface: new Map<string, string>(),
    controller: new Map<string, string>(),
  };
  const portBridge = new Map<string, string>();
  const interfacePort = new Map<string, string>();
  const controllers: OvsControllerStatus[] = [];
  const datapathIds = new Map<string, string>();

  for (const r of portRows) uuids.port.set(str(r.row.name), r.uuid);
  for (const r of ifaceRows) uuids.interface.set(str(r.row.name), r.uuid);

  const bridges: OvsBridge[] = bridgeRows.map(({ uuid: bridgeUuid, row: b }) => {
    const name = str(b.name);
    uuids.bridge.set(name, bridgeUuid);
    const dpid = optString(b.datapath_id);
    if (dpid !== undefined) datapathIds.set(name, dpid);
    const ports: OvsPort[] = [];
    for (const pu of setOf(b.ports)) {
      const p = portByUuid.get(String(pu));
      if (!p) continue;
      const portName = str(p.name);
      portBridge.set(portName, name);
      const interfaces: OvsInterface[] = [];
      for (const iu of setOf(p.interfaces)) {
        const i = ifaceByUuid.get(String(iu));
        if (!i) continue;
        interfacePort.set(str(i.name), portName);
        interfaces.push(interfaceOf(i));
      }
      interfaces.sort((x, y) => compareNames(x.name, y.name));
      ports.push(portOf(p, interfaces));
    }
    ports.sort((x, y) => compareNames(x.name, y.name));
    const ctrls: OvsController[] = [];
    for (const cu of setOf(b.controller)) {
      const c = controllerByUuid.get(String(cu));
      if (!c) continue;
      const target = str(c.target);
      uuids.controller.set(`${name} ${target}`, String(cu));
      const maxBackoff = optNumber(c.max_backoff);
      ctrls.push(maxBackoff === undefined ? { target } : { target, maxBackoff });
      const status = mapOf(c.status);
      controllers.push({
        bridge: name,
        target,
        uuid: String(cu),
        isConnected: c.is_connected === true,
        ...(status.state === undefined ? {} : { state: status.state }),
      });
    }
    ctrls.sort((x, y) => compareNames(x.target, y.target));
    const bridge: OvsBridge = {
      name,
      datapathType: str(b.datapath_type),
      protocols: setOf(b.protocols).map(String).sort(),
      otherConfig: mapOf(b.other_config),
      externalIds: mapOf(b.external_ids),
      controllers: ctrls,
      ports,
    };
    const failMode = optString(b.fail_mode);
    if (failMode !== undefined) bridge.failMode = failMode;
    return bridge;
  });
  bridges.sort((x, y) => compareNames(x.name, y.name));

  const interfaces = new Map<string, OvsInterfaceStatus>();
  for (const { row: r } of ifaceRows) {
    const s: OvsInterfaceStatus = { name: str(r.name) };
    const ofport = optNumber(r.ofport);
    const mtu = optNumber(r.mtu);
    const macInUse = optString(r.mac_in_use);
    const error = optString(r.error);
    const linkState = optString(r.link_state);
    const adminState = optString(r.admin_state);
    if (ofport !== undefined) s.ofport = ofport;
    if (mtu !== undefined) s.mtu = mtu;
    if (macInUse !== undefined) s.macInUse = macInUse;
    if (error !== undefined) s.error = error;
    if (linkState !== undefined) s.linkState = linkState;
    if (adminState !== undefined) s.adminState = adminState;
    interfaces.set(s.name, s);
  }

  return { state: { bridges }, uuids, interfaces, portBridge, interfacePort, controllers, datapathIds };
}

function portOf(p: OvsdbRow, interfaces: OvsInterface[]): OvsPort {
  const port: OvsPort = { name: str(p.name), interfaces, otherConfig: mapOf(p.other_config) };
  const bondMode = optString(p.bond_mode);
  const lacp = optString(p.lacp);
  if (bondMode !== undefined) port.bondMode = bondMode;
  if (lacp !== undefined) port.lacp = lacp;
  return port;
}

function interfaceOf(i: OvsdbRow): OvsInterface {
  const iface: OvsInterface = { name: str(i.name), type: str(i.type), options: mapOf(i.options) };
  const ofportRequest = optNumber(i.ofport_request);
  const mtuRequest = optNumber(i.mtu_request);
  const mac = optString(i.mac);
  if (ofportRequest !== undefined) iface.ofportRequest = ofportRequest;
  if (mtuRequest !== undefined) iface.mtuRequest = mtuRequest;
  if (mac !== undefined) iface.mac = mac;
  return iface;
}
