import { join } from "node:path";
import { execa } from "execa";
import { parseConfig, type VmInitConfig, type VmInitConfigInput } from "../../vm-init/index.ts";
import type { OvsSandbox } from "./ovs-sandbox.ts";

export const REPO = join(import.meta.dirname, "..", "..");
export const ICSDN = join(REPO, "bin", "icsdn");

/** A netdev config for a sandbox linked to the host: underlay on its /30, gateway the host end. */
export function configFor(sb: OvsSandbox, edit: (c: VmInitConfigInput) => void = () => {}): VmInitConfig {
  const host = sb.host;
  if (!host) throw new Error("sandbox has no host link");
  const input: VmInitConfigInput = {
    clusterId: "test",
    vni: 42,
    tunnel: "vxlan",
    datapath: "netdev",
    vint0: { address: "198.18.0.1/24", mac: "02:00:c6:12:00:01" },
    underlay: { nics: [sb.nics[0]!], address: host.vmCidr, gateway: host.hostAddress },
    controller: { targets: [], connectTimeoutMs: 1000 },
  };
  edit(input);
  return parseConfig(input);
}

export function targetOf(sb: OvsSandbox) {
  return { ovsRundir: sb.dir, netns: sb.name };
}

/** Every OVSDB row of the tables vm-init touches, _uuid included, as text: equal means unchanged. */
export async function ovsSnapshot(sb: OvsSandbox): Promise<string> {
  return sb.vsctl(
    "--format=json",
    "--",
    "--columns=_uuid,name,datapath_type,protocols,fail_mode,other_config,external_ids,controller,ports",
    "list",
    "Bridge",
    "--",
    "--columns=_uuid,name,interfaces,bond_mode,lacp,other_config",
    "list",
    "Port",
    "--",
    "--columns=_uuid,name,type,options,ofport,ofport_request,mtu_request,mac,link_resets",
    "list",
    "Interface",
    "--",
    "--columns=_uuid,target,max_backoff",
    "list",
    "Controller",
  );
}

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address: string;
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** Kernel devices (ifindex, flags, MTU, MAC, IPv4 addresses) and routes: equal means unchanged. */
export async function kernelSnapshot(sb: OvsSandbox): Promise<string> {
  const links = await sb.ipJson<IpLink[]>("addr", "show");
  const routes = await sb.ip("route", "show");
  return JSON.stringify({
    links: links.map((l) => ({
      ifindex: l.ifindex,
      ifname: l.ifname,
      flags: l.flags,
      mtu: l.mtu,
      address: l.address,
      v4: l.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
    })),
    routes,
  });
}

export async function links(sb: OvsSandbox): Promise<Map<string, IpLink>> {
  return new Map((await sb.ipJson<IpLink[]>("addr", "show")).map((l) => [l.ifname, l]));
}

export function v4(l: IpLink | undefined): string[] {
  return (l?.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
}

/** `ovs-vsctl get TABLE RECORD COLUMN`, unquoted. */
export async function get(sb: OvsSandbox, table: string, record: string, column: string): Promise<string> {
  return (await sb.vsctl("get", table, record, column)).replace(/^"|"$/g, "");
}

/** Runs the real CLI inside the sandbox's namespace, the way the lab does. */
export async function cli(sb: OvsSandbox, args: string[]) {
  return execa("ip", ["netns", "exec", sb.name, ICSDN, "vm-init", ...args, "--ovs-rundir", sb.dir], {
    reject: false,
    timeout: 30_000,
  });
}
