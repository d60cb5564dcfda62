import { readFile } from "node:fs/promises";
import { endianness } from "node:os";
import type { VmInitConfig } from "./config.ts";
import { readKernel } from "./ip.ts";
import type { DefaultRoute } from "./model.ts";
import { BOND_BRIDGE, CLUSTER_BRIDGE, MANAGED_BRIDGES, OWNER_KEY, VINT } from "./names.ts";
import { openOvs, vswitchdPid } from "./ovs.ts";
import { establishedPeers, targetPeer } from "./proc-net.ts";
import { Shell, type Target } from "./shell.ts";

export interface InterfaceStatus {
  name: string;
  type: string;
  ofport: number | null;
  mtu: number | null;
  mac: string | null;
  options: Record<string, string>;
  error: string | null;
  linkState: string | null;
}

export interface ControllerStatus {
  target: string;
  /** OVSDB's is_connected: authoritative but refreshed by OVS only every 5 s. */
  isConnected: boolean;
  state: string | null;
  /** An ESTABLISHED TCP connection from ovs-vswitchd to the target, seen now. */
  socketEstablished: boolean;
}

export interface BridgeStatus {
  name: string;
  /** The cluster id from vm-init's mark, or null for a bridge vm-init did not make. */
  clusterId: string | null;
  datapathType: string;
  datapathId: string | null;
  failMode: string | null;
  protocols: string[];
  ports: { name: string; bondMode: string | null; interfaces: InterfaceStatus[] }[];
  controllers: ControllerStatus[];
}

export interface DeviceStatus {
  name: string;
  exists: boolean;
  up: boolean;
  mtu: number | null;
  mac: string | null;
  noarp: boolean;
  addresses: string[];
}

export interface StatusReport {
  ovsRundir: string;
  netns: string | null;
  /** icbr0's datapath id (16 hex digits), null when icbr0 does not exist. */
  dpid: string | null;
  /** Any controller connection, by socket or by OVSDB. */
  controllerConnected: boolean;
  bridges: BridgeStatus[];
  devices: DeviceStatus[];
  defaultRoutes: DefaultRoute[];
}

/** What vm-init built and how it is doing: bridges, interfaces, addresses, controller connection, dpid. */
export async function status(target: Target = {}, config?: VmInitConfig): Promise<StatusReport> {
  const sh = new Shell(target);
  // Only the database: status should still say what is configured when ovs-vswitchd is down.
  const db = await openOvs(sh.ovsRundir);
  const ovs = db.observed();
  db.close();
  const [kernel, pid] = await Promise.all([readKernel(sh), vswitchdPid(sh.ovsRundir)]);
  let tcp = "";
  try {
    tcp = await readFile(`/proc/${pid ?? "self"}/net/tcp`, "utf8");
  } catch {
    // No ovs-vswitchd process to look into: socket state unknown, reported as not established.
  }
  const peers = establishedPeers(tcp, endianness() === "LE");

  const bridges: BridgeStatus[] = ovs.state.bridges
    .filter((b) => MANAGED_BRIDGES.includes(b.name))
    .map((b) => ({
      name: b.name,
      clusterId: b.externalIds[OWNER_KEY] ?? null,
      datapathType: b.datapathType,
      datapathId: ovs.datapathIds.get(b.name) ?? null,
      failMode: b.failMode ?? null,
      protocols: b.protocols,
      ports: b.ports.map((p) => ({
        name: p.name,
        bondMode: p.bondMode ?? null,
        interfaces: p.interfaces.map((i) => {
          const s = ovs.interfaces.get(i.name);
          return {
            name: i.name,
            type: i.type,
            ofport: s?.ofport ?? null,
            mtu: s?.mtu ?? null,
            mac: s?.macInUse ?? null,
            options: { ...i.options },
            error: s?.error ?? null,
            linkState: s?.linkState ?? null,
          };
        }),
      })),
      controllers: ovs.controllers
        .filter((c) => c.bridge === b.name)
        .map((c) => {
          const peer = /^(tcp|ssl):/.test(c.target) ? targetPeer(c.target) : undefined;
          return {
            target: c.target,
            isConnected: c.isConnected,
            state: c.state ?? null,
            socketEstablished:
              peer !== undefined && peers.some((p) => p.address === peer.address && p.port === peer.port),
          };
        }),
    }));

  const bondPorts = ovs.state.bridges.find((b) => b.name === BOND_BRIDGE)?.ports ?? [];
  const nics =
    config?.underlay.nics ??
    bondPorts.filter((p) => p.name !== BOND_BRIDGE).flatMap((p) => p.interfaces.map((i) => i.name));
  const devices: DeviceStatus[] = [BOND_BRIDGE, VINT, ...nics].map((name) => {
    const l = kernel.links.get(name);
    return {
      name,
      exists: l !== undefined,
      up: l?.up ?? false,
      mtu: l?.mtu ?? null,
      mac: l?.mac ?? null,
      noarp: l?.noarp ?? false,
      addresses: l?.addresses ?? [],
    };
  });
  const controllers = bridges.flatMap((b) => b.controllers);
  return {
    ovsRundir: sh.ovsRundir,
    netns: sh.netns ?? null,
    dpid: ovs.datapathIds.get(CLUSTER_BRIDGE) ?? null,
    controllerConnected: controllers.some((c) => c.isConnected || c.socketEstablished),
    bridges,
    devices,
    defaultRoutes: kernel.defaultRoutes,
  };
}
