/**
 * The lab's state file: everything the lab made on the machine (pids, namespaces, interfaces, folders,
 * NAT rules), so `lab down` can remove it all even after the lab daemon was killed.
 *
 * Written only by the TypeScript side, under a lock, atomically (write + rename).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TunnelType } from "../contract/dataplane/index.ts";
import type { LAB_ERRORS } from "../contract/errors/codes/lab.ts";
import { IcsdnError } from "../contract/errors/index.ts";

export const DEFAULT_STATE_ROOT = "/run/icsdn-lab";

export interface NatRule {
  /** Namespace (router) the rule lives in. */
  readonly netns: string;
  /** iptables arguments after `-A`/`-D`: table, chain and rule. */
  readonly table: "nat";
  readonly chain: "PREROUTING" | "POSTROUTING";
  readonly rule: readonly string[];
}

export interface RouterState {
  readonly node: string;
  /** Named network namespace (/run/netns/<netns>), the same as the node name. */
  readonly netns: string;
  pid: number;
  readonly providerIp: string;
  readonly mgmtIp: string;
  readonly wan: {
    readonly peer: string;
    readonly intf: string;
    readonly ip: string;
    readonly peerIp: string;
  }[];
  readonly routes: string[];
}

export interface CloudState {
  readonly name: string;
  readonly provider: string;
  readonly providerPrefix: number;
  readonly floatingRange: string;
  /** Root-namespace bridge of the provider network. */
  readonly bridge: string;
  readonly router: RouterState;
  /** Every fixed / floating address ever handed out here (never reused while the lab lives). */
  readonly fixedUsed: string[];
  readonly floatingUsed: string[];
}

export interface NicState {
  /** Name inside the VM: eth0, eth1. */
  readonly name: string;
  /** The veth end in the root namespace, on the provider bridge (the "cable"). */
  readonly rootPort: string;
}

export type InstanceRole = "current" | "source";

export interface InstanceState {
  readonly id: number;
  readonly node: string;
  readonly netns: string;
  readonly cloud: string;
  pid: number;
  readonly fixedIp: string;
  readonly floatingIp: string;
  readonly nics: NicState[];
  /** The VM's own folder: OVS database, sockets, pidfiles, logs (OVS_RUNDIR), vm-init config. */
  readonly dir: string;
  readonly config: string;
  readonly natRules: NatRule[];
  role: InstanceRole;
  /** icbr0's datapath id as OVS reports it, 16 hex digits, once vm-init has run. */
  dpid: string | null;
  readonly createdAt: string;
  ready: boolean;
  /** The VM's own Open vSwitch daemons (their pidfiles are in `dir`). */
  ovsPids?: { ovsdbServer: number | null; ovsVswitchd: number | null };
  /** What `vm-init apply` reported (DESIGN.md's linking time among it), once it ran. */
  vmInit?: {
    linkingMs: number | null;
    configuredMs: number;
    controllerConnected: boolean;
    /** What the controller said to vm-init's linking report ("recorded", or why not); null if none was sent. */
    linkingReport?: string | null;
  } | null;
}

export interface VmState {
  readonly name: string;
  readonly index: number;
  readonly vint0: { readonly ip: string; readonly prefix: number; readonly mac: string };
  instances: InstanceState[];
}

export interface LabOptions {
  readonly clouds: number;
  readonly vmsPerCloud: number;
  readonly tunnel: TunnelType;
  readonly wanMbit: number | null;
  readonly nics: 1 | 2;
  readonly controllers: string[];
  readonly vni: number;
  readonly clusterId: string;
  /**
   * The controller's REST API as the VMs reach it, and its token file: vm-init reports each VM's
   * linking time there (as member `vmN`). Absent: no reports.
   */
  readonly controllerRest?: { readonly url: string; readonly tokenFile: string };
}

export interface LabState {
  readonly version: 1;
  readonly name: string;
  /** Prefix of every name the lab made (interfaces, namespaces, mininet nodes). */
  readonly prefix: string;
  readonly dir: string;
  readonly createdAt: string;
  phase: "starting" | "ready" | "failed";
  readonly options: LabOptions;
  readonly daemon: {
    pid: number | null;
    readonly socket: string;
    readonly log: string;
    readonly script: string;
  };
  readonly host: {
    readonly bridge: string;
    readonly address: string;
    readonly prefix: number;
    readonly routes: string[];
  };
  readonly clouds: CloudState[];
  readonly wan: {
    readonly a: string;
    readonly b: string;
    readonly network: string;
    readonly mbit: number | null;
  }[];
  readonly vms: VmState[];
  /** Every interface the lab made in the root namespace (bridges and veth ends). */
  readonly rootLinks: string[];
  /** Every named network namespace the lab made. */
  readonly netns: string[];
  nextInstance: number;
}

export function labDir(name: string, root = stateRoot()): string {
  return join(root, name);
}

export function stateRoot(): string {
  return process.env.ICSDN_LAB_ROOT ?? DEFAULT_STATE_ROOT;
}

export function statePath(dir: string): string {
  return join(dir, "state.json");
}

/** Why a lab command refused or failed (contract/errors/codes/lab.ts). */
export type LabErrorCode = keyof typeof LAB_ERRORS;

export class LabError extends IcsdnError<LabErrorCode> {
  override readonly name = "LabError";
  constructor(code: LabErrorCode, message: string) {
    super(code, message);
  }
}

export function readState(dir: string): LabState {
  let text: string;
  try {
    text = readFileSync(statePath(dir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new LabError("NO_LAB", `no lab state at ${statePath(dir)} (is the lab up?)`);
    }
    throw err;
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1)
    throw new LabError("BAD_STATE", `${statePath(dir)}: unknown version ${state.version}`);
  return state;
}

export function tryReadState(dir: string): LabState | null {
  try {
    return readState(dir);
  } catch (err) {
    if (err instanceof LabError && err.code === "NO_LAB") return null;
    throw err;
  }
}

export function writeState(state: LabState): void {
  mkdirSync(state.dir, { recursive: true });
  const path = statePath(state.dir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Holds the lab's lock file for the duration of `fn` (one lab command at a time). */
export async function withLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, "lock");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSafe(lock));
      if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new LabError("LOCKED", `another lab command (pid ${holder}) holds ${lock}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    if (readFileSafe(lock) === String(process.pid)) rmSync(lock, { force: true });
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
