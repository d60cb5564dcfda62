/**
 * The lab's address plan and names: pure functions, no I/O.
 *
 * Every address is from a documentation range (RFC 5737 TEST-NET-1/2/3) except the cluster
 * addresses, which come from the benchmarking range 198.18.0.0/24 (RFC 2544):
 *
 * | what                                   | cloud a            | cloud b              | cloud c              | cloud d                |
 * |----------------------------------------|--------------------|----------------------|----------------------|------------------------|
 * | provider network (VMs' fixed IPs)      | 192.0.2.0/25       | 198.51.100.0/25      | 192.0.2.128/25       | 198.51.100.128/25      |
 * | router on the provider network         | .1                 | .1                   | .129                 | .129                   |
 * | fixed IPs handed to VMs                | .10 - .126         | .10 - .126           | .138 - .254          | .138 - .254            |
 * | floating IPs (1:1 NAT at the router)   | 203.0.113.33 - .62 | 203.0.113.65 - .94   | 203.0.113.97 - .126  | 203.0.113.129 - .158   |
 * | router on the management network       | 203.0.113.226      | 203.0.113.227        | 203.0.113.228        | 203.0.113.229          |
 *
 * - WAN: one point-to-point link per pair of clouds, /30s from 203.0.113.0/27 in pair order
 *   (a-b 203.0.113.0/30: a .1, b .2; a-c .4/30; a-d .8/30; b-c .12/30; b-d .16/30; c-d .20/30).
 *   Each router routes the other clouds' floating ranges over the link to that cloud.
 * - Management network 203.0.113.224/27: a Linux bridge in the machine's own (root) namespace with
 *   the address 203.0.113.225 (HOST_ADDRESS), where a controller running on the machine listens.
 *   Every router has a leg there; the machine routes each cloud's floating range to that cloud's
 *   router, so a VM reaches the controller from its floating IP, as it would from a real cloud.
 * - Cluster: vmN's vint0 is 198.18.0.N/24 with the contract's MAC for it, 02:1c:c6:12:00:NN (the same in
 *   every cloud).
 */

import { vint0MacFor } from "../contract/dataplane/index.ts";

export const CLOUD_NAMES = ["a", "b", "c", "d"] as const;
export const MAX_CLOUDS = CLOUD_NAMES.length;

/** The machine's address on the lab's management network: what VMs dial to reach a controller here. */
export const HOST_ADDRESS = "203.0.113.225";
export const MGMT_PREFIX = 27;
export const MGMT_NETWORK = "203.0.113.224/27";
export const CLUSTER_NETWORK = "198.18.0.0/24";
export const DEFAULT_CONTROLLER_PORT = 6653;
/** Underlay MTU everywhere in the lab (veths, bridges); vm-init sizes vint0 from it per tunnel type. */
export const UNDERLAY_MTU = 1500;

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`not an IPv4 address: ${ip}`);
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function add(ip: string, k: number): string {
  return intToIp(ipToInt(ip) + k);
}

/** A contiguous range of addresses handed out one by one, never reused while the lab lives. */
export interface Pool {
  readonly first: string;
  readonly last: string;
}

export interface CloudPlan {
  readonly name: string;
  readonly index: number;
  /** Provider network, e.g. 192.0.2.0/25. */
  readonly provider: string;
  readonly providerPrefix: number;
  readonly routerProviderIp: string;
  readonly fixedPool: Pool;
  /** Floating range as a prefix the other routers and the machine route to this cloud's router. */
  readonly floatingRange: string;
  readonly floatingPool: Pool;
  readonly routerMgmtIp: string;
}

export interface WanPlan {
  readonly a: string;
  readonly b: string;
  readonly network: string;
  readonly ipA: string;
  readonly ipB: string;
  readonly prefix: 30;
}

export function cloudPlan(index: number): CloudPlan {
  const name = CLOUD_NAMES[index];
  if (name === undefined) throw new Error(`cloud index ${index} out of range (at most ${MAX_CLOUDS} clouds)`);
  const base = add(index % 2 === 0 ? "192.0.2.0" : "198.51.100.0", Math.floor(index / 2) * 128);
  const floatingBase = add("203.0.113.0", 32 * (index + 1));
  return {
    name,
    index,
    provider: `${base}/25`,
    providerPrefix: 25,
    routerProviderIp: add(base, 1),
    fixedPool: { first: add(base, 10), last: add(base, 126) },
    floatingRange: `${floatingBase}/27`,
    floatingPool: { first: add(floatingBase, 1), last: add(floatingBase, 30) },
    routerMgmtIp: add(HOST_ADDRESS, 1 + index),
  };
}

export function cloudPlanByName(name: string): CloudPlan {
  const index = (CLOUD_NAMES as readonly string[]).indexOf(name);
  if (index < 0) throw new Error(`no cloud named '${name}' (clouds are ${CLOUD_NAMES.join(", ")})`);
  return cloudPlan(index);
}

/** The WAN links of `clouds` clouds: a full mesh of point-to-point /30s, in pair order. */
export function wanPlan(clouds: number): WanPlan[] {
  const links: WanPlan[] = [];
  for (let i = 0; i < clouds; i++) {
    for (let j = i + 1; j < clouds; j++) {
      const net = add("203.0.113.0", 4 * links.length);
      links.push({
        a: CLOUD_NAMES[i]!,
        b: CLOUD_NAMES[j]!,
        network: `${net}/30`,
        ipA: add(net, 1),
        ipB: add(net, 2),
        prefix: 30,
      });
    }
  }
  return links;
}

/** Next free address of `pool` after `used` (addresses already handed out), or undefined when exhausted. */
export function nextFromPool(pool: Pool, used: Iterable<string>): string | undefined {
  const taken = new Set<number>();
  for (const u of used) taken.add(ipToInt(u));
  const highest = Math.max(ipToInt(pool.first) - 1, ...[...taken].filter((n) => inPool(pool, n)));
  // Never reuse: a stale conntrack entry for a reused address would NAT it the old way.
  const next = highest + 1;
  return next <= ipToInt(pool.last) ? intToIp(next) : undefined;
}

function inPool(pool: Pool, n: number): boolean {
  return n >= ipToInt(pool.first) && n <= ipToInt(pool.last);
}

export function vint0Address(vmIndex: number): { ip: string; prefix: number; mac: string } {
  if (!Number.isInteger(vmIndex) || vmIndex < 1 || vmIndex > 254)
    throw new Error(`VM index ${vmIndex} out of 1..254`);
  return {
    ip: `198.18.0.${vmIndex}`,
    prefix: 24,
    mac: vint0MacFor(`198.18.0.${vmIndex}`),
  };
}

// --- names ------------------------------------------------------------------------------------------

export const LAB_NAME_RE = /^[a-z][a-z0-9]{0,3}$/;
export const IFNAMSIZ = 15;

/**
 * Everything the lab makes on the machine carries this prefix: root-namespace bridges and veth ends,
 * named network namespaces, mininet node names (so its shells are `mininet:<prefix>...`).
 */
export function labPrefix(name: string): string {
  if (!LAB_NAME_RE.test(name)) throw new Error(`lab name '${name}' must match ${LAB_NAME_RE}`);
  return `ic${name}-`;
}

export interface Names {
  readonly prefix: string;
  /** Root-namespace bridge of a cloud's provider network. */
  providerBridge(cloud: string): string;
  /** Root-namespace bridge of the management network; the machine's HOST_ADDRESS is on it. */
  mgmtBridge(): string;
  /** Router of a cloud: mininet node and named network namespace. */
  router(cloud: string): string;
  /** Root-side veth end of a router's provider leg / management leg. */
  routerProviderPort(cloud: string): string;
  routerMgmtPort(cloud: string): string;
  /** A VM instance: mininet node and named network namespace. */
  instance(vm: string, id: number): string;
  /** Root-side veth end of a VM instance's NIC number `nic`. */
  instancePort(id: number, nic: number): string;
  /**
   * An OpenStack server's lab VM (made by lab/openstack/pylib/icsdn_lab.py, which builds the same
   * names): its namespace, and the root-side end of its NIC; every one starts with the prefixes.
   */
  server(uuid: string): string;
  serverPort(uuid: string): string;
  readonly serverPrefix: string;
  readonly serverPortPrefix: string;
}

export function names(labName: string): Names {
  const p = labPrefix(labName);
  const ifname = (s: string): string => {
    if (s.length > IFNAMSIZ) throw new Error(`interface name '${s}' is longer than ${IFNAMSIZ}`);
    return s;
  };
  return {
    prefix: p,
    providerBridge: (cloud) => ifname(`${p}p${cloud}`),
    mgmtBridge: () => ifname(`${p}mg`),
    router: (cloud) => `${p}router-${cloud}`,
    routerProviderPort: (cloud) => ifname(`${p}r${cloud}`),
    routerMgmtPort: (cloud) => ifname(`${p}m${cloud}`),
    instance: (vm, id) => `${p}${vm}-${id}`,
    instancePort: (id, nic) => ifname(`${p}${id}e${nic}`),
    server: (uuid) => `${p}s${uuid.replaceAll("-", "").slice(0, 8)}`,
    serverPort: (uuid) => ifname(`${p}v${uuid.replaceAll("-", "").slice(0, 7)}`),
    serverPrefix: `${p}s`,
    serverPortPrefix: `${p}v`,
  };
}

/** Interface names inside a router's namespace. */
export const ROUTER_PROVIDER_IF = "prov";
export const ROUTER_MGMT_IF = "mgmt";
export const wanIf = (peer: string): string => `wan-${peer}`;

/** Which cloud vmN (1-based) starts in, with `perCloud` VMs per cloud: vm1..vmK in a, the next K in b... */
export function initialCloud(vmIndex: number, perCloud: number): string {
  const cloud = CLOUD_NAMES[Math.floor((vmIndex - 1) / perCloud)];
  if (cloud === undefined) throw new Error(`VM ${vmIndex} has no cloud`);
  return cloud;
}

/** `host`, `host:PORT` or `tcp:IP:PORT` / `ssl:IP:PORT` -> an OVS controller target. */
export function controllerTarget(spec: string): string {
  const host = /^host(?::(\d{1,5}))?$/.exec(spec);
  if (host) return `tcp:${HOST_ADDRESS}:${host[1] ?? DEFAULT_CONTROLLER_PORT}`;
  const m = /^(tcp|ssl):(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(spec);
  if (!m) throw new Error(`--controller '${spec}': expected tcp:IP:PORT, ssl:IP:PORT, host or host:PORT`);
  ipToInt(m[2]!);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`--controller '${spec}': port out of range`);
  return spec;
}
