/** What a lab is: the status view of its clouds, VMs and instances, and which labs exist. */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { TunnelType } from "../contract/dataplane/index.ts";
import { isAlive } from "./sh.ts";
import { type InstanceState, labDir, readState, stateRoot } from "./state.ts";

export interface InstanceView {
  readonly cloud: string;
  readonly role: string;
  readonly node: string;
  readonly netns: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly ovsPids: { ovsdbServer: number | null; ovsVswitchd: number | null } | null;
  readonly fixedIp: string;
  readonly floatingIp: string;
  readonly dpid: string | null;
  readonly nics: { name: string; rootPort: string }[];
  readonly dir: string;
  readonly ready: boolean;
  /**
   * From `vm-init apply`: linking time (null when no controller connected), configured time, and
   * what became of its linking report to the controller ("recorded", or why not; null: none sent).
   */
  readonly vmInit: NonNullable<InstanceState["vmInit"]> | null;
}

export interface VmView {
  readonly name: string;
  readonly vint0: { ip: string; prefix: number; mac: string };
  /** The current instance's cloud, addresses and dpid (null while it has none). */
  readonly cloud: string | null;
  readonly fixedIp: string | null;
  readonly floatingIp: string | null;
  readonly dpid: string | null;
  readonly instances: InstanceView[];
}

export interface StatusView {
  readonly name: string;
  readonly phase: string;
  readonly dir: string;
  readonly daemon: { pid: number | null; alive: boolean; log: string };
  readonly tunnel: TunnelType;
  readonly vni: number;
  readonly clusterId: string;
  readonly controllers: string[];
  readonly hostAddress: string;
  readonly mgmtNetwork: string;
  readonly clouds: {
    name: string;
    provider: string;
    floatingRange: string;
    router: {
      netns: string;
      providerIp: string;
      mgmtIp: string;
      wan: { peer: string; intf: string; ip: string }[];
    };
  }[];
  readonly wan: { a: string; b: string; network: string; mbit: number | null }[];
  readonly vms: VmView[];
}

export function status(name: string): StatusView {
  const s = readState(labDir(name));
  return {
    name: s.name,
    phase: s.phase,
    dir: s.dir,
    daemon: { pid: s.daemon.pid, alive: s.daemon.pid !== null && isAlive(s.daemon.pid), log: s.daemon.log },
    tunnel: s.options.tunnel,
    vni: s.options.vni,
    clusterId: s.options.clusterId,
    controllers: s.options.controllers,
    hostAddress: s.host.address,
    mgmtNetwork: `${s.host.address}/${s.host.prefix}`,
    clouds: s.clouds.map((c) => ({
      name: c.name,
      provider: c.provider,
      floatingRange: c.floatingRange,
      router: {
        netns: c.router.netns,
        providerIp: c.router.providerIp,
        mgmtIp: c.router.mgmtIp,
        wan: c.router.wan.map((w) => ({ peer: w.peer, intf: w.intf, ip: w.ip })),
      },
    })),
    wan: s.wan.map((w) => ({ ...w })),
    vms: s.vms.map((vm) => {
      const cur = vm.instances.find((i) => i.role === "current");
      return {
        name: vm.name,
        vint0: { ...vm.vint0 },
        cloud: cur?.cloud ?? null,
        fixedIp: cur?.fixedIp ?? null,
        floatingIp: cur?.floatingIp ?? null,
        dpid: cur?.dpid ?? null,
        instances: vm.instances.map((i) => ({
          cloud: i.cloud,
          role: i.role,
          node: i.node,
          netns: i.netns,
          pid: i.pid,
          alive: isAlive(i.pid),
          ovsPids: i.ovsPids ?? null,
          fixedIp: i.fixedIp,
          floatingIp: i.floatingIp,
          dpid: i.dpid,
          nics: i.nics.map((x) => ({ ...x })),
          dir: i.dir,
          ready: i.ready,
          vmInit: i.vmInit ?? null,
        })),
      };
    }),
  };
}

/** Names of labs with a state file on this machine. */
export function listLabs(): string[] {
  const root = stateRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((d) => existsSync(join(root, d, "state.json")));
}
