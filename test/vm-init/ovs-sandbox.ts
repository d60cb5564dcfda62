/**
 * A lab VM in miniature, for tests: a network namespace (name prefix `icvt`) with veth NICs and
 * its own ovsdb-server + ovs-vswitchd (userspace datapath; no kernel module needed) whose files
 * live in a temp dir used as OVS_RUNDIR, as LAB-NOTES describes per lab VM. Reusable by lab tests.
 *
 * Everything a sandbox creates (processes, namespace, host-side veths, temp dir) is removed by
 * `destroy()`, and `destroyAllSandboxes()` (call it in afterEach/afterAll) removes whatever a
 * failed test left. A last-resort exit hook kills the daemons and namespaces synchronously.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
/** Host-side /30s for sandboxes linked to the host: 203.0.113.128/25 (TEST-NET-3), 32 of them. */
const HOST_POOL_BASE = ((203 << 24) | (0 << 16) | (113 << 8) | 128) >>> 0;
const HOST_POOL_SIZE = 32;

export interface SandboxOptions {
  /** NICs inside the namespace (veth ends). Default ["eth0"]. */
  nics?: string[];
  /**
   * Links the first NIC to the host through a veth with a /30: the host end gets .1, the VM
   * should use .2. Default true. Needed to reach a listener on the host (the namespace cannot
   * reach the host's loopback).
   */
  hostLink?: boolean;
  /**
   * `ethtool -K <host end> tx off`, so TCP from the host into the VM's userspace OVS carries
   * finished checksums (see vm-init/offload.ts). Default true.
   */
  hostTxOff?: boolean;
}

export interface HostLink {
  /** The host's device on the link: the veth end, or with several NICs a bridge over their ends. */
  ifname: string;
  /** Address of the host end. */
  hostAddress: string;
  /** Address for the VM's underlay, `a.b.c.d/30`. */
  vmCidr: string;
  prefixLength: 30;
}

const live = new Set<OvsSandbox>();
let exitHookInstalled = false;

export class OvsSandbox {
  readonly name: string;
  readonly dir: string;
  readonly nics: string[];
  host: HostLink | undefined;
  private readonly hostIfs: string[] = [];

  constructor(name: string, dir: string, nics: string[]) {
    this.name = name;
    this.dir = dir;
    this.nics = nics;
  }

  get env(): Record<string, string> {
    return { OVS_RUNDIR: this.dir, OVS_DBDIR: this.dir, OVS_LOGDIR: this.dir };
  }

  /** ovs-vsctl against this sandbox's OVS. */
  async vsctl(...args: string[]): Promise<string> {
    return (await execa("ovs-vsctl", ["--timeout=5", ...args], { env: this.env })).stdout;
  }

  /** ovs-ofctl against this sandbox's OVS (its management sockets live in the rundir). */
  async ofctl(...args: string[]): Promise<string> {
    return (await execa("ovs-ofctl", args, { env: this.env })).stdout;
  }

  /** `ip -n <ns> ...` */
  async ip(...args: string[]): Promise<string> {
    return (await execa("ip", ["-n", this.name, ...args])).stdout;
  }

  /** Parsed `ip -n <ns> -j ...`. */
  async ipJson<T>(...args: string[]): Promise<T> {
    return JSON.parse(await this.ip("-j", ...args)) as T;
  }

  /** Runs a command inside the namespace. */
  async exec(file: string, args: string[], opts: { reject?: boolean; timeout?: number } = {}) {
    return execa("ip", ["netns", "exec", this.name, file, ...args], {
      env: this.env,
      reject: opts.reject ?? true,
      timeout: opts.timeout ?? 20_000,
    });
  }

  pid(daemon: "ovs-vswitchd" | "ovsdb-server"): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(join(this.dir, `${daemon}.pid`), "utf8"), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops ovs-vswitchd only (a "missing OVS" case: the database stays). */
  async stopVswitchd(): Promise<void> {
    await killAndWait(this.pid("ovs-vswitchd"));
  }

  /** Starts ovs-vswitchd; --detach returns once it has finished its first configuration pass. */
  async startVswitchd(): Promise<void> {
    const d = this.dir;
    await this.exec("ovs-vswitchd", [
      `unix:${join(d, "db.sock")}`,
      `--pidfile=${join(d, "ovs-vswitchd.pid")}`,
      `--unixctl=${join(d, "ovs-vswitchd.ctl")}`,
      `--log-file=${join(d, "ovs-vswitchd.log")}`,
      "--detach",
      "--no-chdir",
    ]);
  }

  /** Stops both daemons and removes the socket files (OVS not installed or not started). */
  async stopOvs(): Promise<void> {
    await killAndWait(this.pid("ovs-vswitchd"));
    await killAndWait(this.pid("ovsdb-server"));
    rmSync(join(this.dir, "db.sock"), { force: true });
  }

  addHostIf(ifname: string): void {
    this.hostIfs.push(ifname);
  }

  async destroy(): Promise<void> {
    live.delete(this);
    await killAndWait(this.pid("ovs-vswitchd"));
    await killAndWait(this.pid("ovsdb-server"));
    await execa("ip", ["netns", "del", this.name], { reject: false });
    for (const ifname of this.hostIfs) await execa("ip", ["link", "del", ifname], { reject: false });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous cleanup for the exit hook. */
  destroySync(): void {
    for (const d of ["ovs-vswitchd", "ovsdb-server"] as const) {
      const pid = this.pid(d);
      if (pid !== undefined) tryKill(pid, "SIGKILL");
    }
    syncRun("ip", ["netns", "del", this.name]);
    for (const ifname of this.hostIfs) syncRun("ip", ["link", "del", ifname]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Creates a namespace with NICs and a running OVS. Cleans up after itself if it fails half way. */
export async function createSandbox(opts: SandboxOptions = {}): Promise<OvsSandbox> {
  installExitHook();
  const nics = opts.nics ?? ["eth0"];
  const id = await freeId();
  const name = `icvt${id}`;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const sb = new OvsSandbox(name, dir, nics);
  live.add(sb);
  try {
    await execa("ip", ["netns", "add", name]);
    await sb.ip("link", "set", "lo", "up");
    for (const [i, nic] of nics.entries()) {
      const outside = `${name}h${i}`;
      const inside = `${name}v${i}`;
      await execa("ip", ["link", "add", outside, "type", "veth", "peer", "name", inside]);
      sb.addHostIf(outside);
      await execa("ip", ["link", "set", inside, "netns", name]);
      await sb.ip("link", "set", inside, "name", nic);
      await sb.ip("link", "set", nic, "up");
      await execa("ip", ["link", "set", outside, "up"]);
    }
    if (opts.hostLink ?? true) {
      // One NIC: the host end carries the address. Several: a Linux bridge on the host joins
      // their ends into one segment (as a cloud's network would) and carries it.
      let ifname = `${name}h0`;
      if (nics.length > 1) {
        ifname = `${name}br`;
        await execa("ip", ["link", "add", ifname, "type", "bridge"]);
        sb.addHostIf(ifname);
        for (const i of nics.keys()) await execa("ip", ["link", "set", `${name}h${i}`, "master", ifname]);
        await execa("ip", ["link", "set", ifname, "up"]);
      }
      const net = await freeHostSubnet();
      const hostAddress = u32ToIp(net + 1);
      await execa("ip", ["addr", "add", `${hostAddress}/30`, "dev", ifname]);
      if (opts.hostTxOff ?? true) {
        const ends = nics.length > 1 ? [ifname, ...nics.map((_, i) => `${name}h${i}`)] : [ifname];
        for (const dev of ends) await execa("ethtool", ["-K", dev, "tx", "off"]);
      }
      sb.host = { ifname, hostAddress, vmCidr: `${u32ToIp(net + 2)}/30`, prefixLength: 30 };
    }
    await startOvs(sb);
    return sb;
  } catch (err) {
    await sb.destroy();
    throw err;
  }
}

/**
 * Connects two sandboxes with a veth: `nicA` appears in `a`, `nicB` in `b` (both up). The
 * sandboxes must have been created without those NICs.
 */
export async function linkSandboxes(a: OvsSandbox, nicA: string, b: OvsSandbox, nicB: string): Promise<void> {
  const ta = `${a.name}x${a.nics.length}`;
  const tb = `${b.name}x${b.nics.length}`;
  await execa("ip", ["link", "add", ta, "type", "veth", "peer", "name", tb]);
  await execa("ip", ["link", "set", ta, "netns", a.name]);
  await execa("ip", ["link", "set", tb, "netns", b.name]);
  await a.ip("link", "set", ta, "name", nicA);
  await b.ip("link", "set", tb, "name", nicB);
  await a.ip("link", "set", nicA, "up");
  await b.ip("link", "set", nicB, "up");
  a.nics.push(nicA);
  b.nics.push(nicB);
}

/** Removes every sandbox still alive (for afterEach/afterAll). */
export async function destroyAllSandboxes(): Promise<void> {
  for (const sb of [...live]) await sb.destroy();
}

async function startOvs(sb: OvsSandbox): Promise<void> {
  const d = sb.dir;
  await execa("ovsdb-tool", ["create", join(d, "conf.db"), SCHEMA]);
  await sb.exec("ovsdb-server", [
    join(d, "conf.db"),
    `--remote=punix:${join(d, "db.sock")}`,
    `--pidfile=${join(d, "ovsdb-server.pid")}`,
    `--unixctl=${join(d, "ovsdb-server.ctl")}`,
    `--log-file=${join(d, "ovsdb-server.log")}`,
    "--detach",
    "--no-chdir",
  ]);
  await sb.vsctl("--no-wait", "init");
  await sb.startVswitchd();
}

async function freeId(): Promise<string> {
  const { stdout } = await execa("ip", ["netns", "list"]);
  for (;;) {
    const id = randomBytes(2).toString("hex");
    if (!stdout.includes(`icvt${id}`) && !existsSync(`/sys/class/net/icvt${id}h0`)) return id;
  }
}

/** A /30 in the pool that no route in the root namespace overlaps (the lab may use TEST-NETs too). */
async function freeHostSubnet(): Promise<number> {
  const routes = JSON.parse((await execa("ip", ["-j", "route", "show", "table", "all"])).stdout) as {
    dst?: string;
  }[];
  const used = routes
    .map((r) => r.dst)
    .filter((d): d is string => d !== undefined && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d))
    .map((d) => {
      const [a, p] = d.split("/");
      return { net: ipToU32(a!), len: p === undefined ? 32 : Number(p) };
    });
  for (let i = 0; i < HOST_POOL_SIZE; i++) {
    const net = HOST_POOL_BASE + i * 4;
    const clash = used.some((u) => {
      const len = Math.min(u.len, 30);
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      return (u.net & mask) >>> 0 === (net & mask) >>> 0;
    });
    if (!clash) return net;
  }
  throw new Error("no free /30 left in 203.0.113.128/25 on the host");
}

async function killAndWait(pid: number | undefined): Promise<void> {
  if (pid === undefined || !tryKill(pid, "SIGTERM")) return;
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (!running(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  tryKill(pid, "SIGKILL");
}

/** Alive and not a zombie waiting for its reaper. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function syncRun(file: string, args: string[]): void {
  try {
    execFileSync(file, args, { stdio: "ignore" });
  } catch {
    // Best effort at exit.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const sb of live) sb.destroySync();
  });
}

function ipToU32(ip: string): number {
  return ip.split(".").reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

function u32ToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}
