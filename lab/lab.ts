/**
 * The lab: several emulated clouds on this machine, built on mininet (through the lab daemon) and
 * configured from here by entering each node's named network namespace.
 *
 * A cloud = a provider network (Linux bridge in the root namespace) + a router node doing 1:1
 * floating-IP NAT + lab VMs. A lab VM = a mininet host running its own ovsdb-server and
 * ovs-vswitchd (userspace datapath, files under the VM's folder) configured by `icsdn vm-init apply`,
 * exactly as a real VM. See plan.ts for the address plan.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TunnelType } from "../contract/dataplane/index.ts";
import type { ApplyResult } from "../vm-init/apply.ts";
import { call, LABD_SCRIPT, must, startDaemon, tail } from "./daemon.ts";
import {
  CLOUD_NAMES,
  cloudPlan,
  cloudPlanByName,
  HOST_ADDRESS,
  initialCloud,
  MGMT_PREFIX,
  names,
  nextFromPool,
  ROUTER_MGMT_IF,
  ROUTER_PROVIDER_IF,
  vint0Address,
  wanIf,
  wanPlan,
} from "./plan.ts";
import { isAlive, killAll, processes, q, type RunResult, run, runIn, scriptIn, sleep } from "./sh.ts";
import {
  type CloudState,
  type InstanceState,
  LabError,
  type LabOptions,
  type LabState,
  labDir,
  type NatRule,
  readState,
  stateRoot,
  tryReadState,
  type VmState,
  withLock,
  writeState,
} from "./state.ts";
import { vmInitConfig } from "./vminit.ts";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ICSDN_BIN = join(REPO_ROOT, "bin", "icsdn");
const OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";

export type Logger = (line: string) => void;
const quiet: Logger = () => {};

// --- up -------------------------------------------------------------------------------------------

/** Builds the lab and returns once every VM is configured; the daemon keeps it alive afterwards. */
export async function up(name: string, options: LabOptions, log: Logger = quiet): Promise<LabState> {
  names(name); // checks the name
  validateOptions(options);
  const others = listLabs();
  if (others.length > 0) {
    throw new LabError(
      "LAB_EXISTS",
      `lab '${others[0]}' is up (or was left behind): one lab at a time; run 'icsdn lab down --name ${others[0]}'`,
    );
  }
  const left = await leftovers(name);
  if (left.netns.length + left.links.length + left.processes.length > 0) {
    throw new LabError(
      "LEFTOVERS",
      `objects of lab '${name}' are still on the machine (${[...left.netns, ...left.links].join(", ")}${
        left.processes.length ? `, pids ${left.processes.join(" ")}` : ""
      }); run 'icsdn lab down --name ${name}'`,
    );
  }
  const dir = labDir(name);
  const state = initialState(name, dir, options);
  mkdirSync(dir, { recursive: true });
  writeState(state);
  const started = Date.now();
  try {
    await withLock(dir, async () => {
      await buildNetwork(state, log);
      log(`network built in ${ms(started)}`);
      const created: [VmState, InstanceState][] = [];
      for (const vm of state.vms) {
        created.push([
          vm,
          await createInstance(state, vm, initialCloud(vm.index, options.vmsPerCloud), "current"),
        ]);
      }
      await Promise.all(created.map(([vm, inst]) => bootInstance(state, vm, inst)));
      state.phase = "ready";
      writeState(state);
    });
  } catch (err) {
    const daemonLog = tail(state.daemon.log, 15);
    log(`lab up failed; removing what was made`);
    await teardown(name, log).catch(() => {});
    if (err instanceof Error) err.message += `\n(lab daemon log, last lines:)\n${daemonLog}`;
    throw err;
  }
  log(`lab '${name}' up in ${ms(started)}`);
  return state;
}

function validateOptions(o: LabOptions): void {
  if (!Number.isInteger(o.clouds) || o.clouds < 1 || o.clouds > CLOUD_NAMES.length) {
    throw new LabError("BAD_OPTION", `--clouds must be 1..${CLOUD_NAMES.length}, not ${o.clouds}`);
  }
  if (!Number.isInteger(o.vmsPerCloud) || o.vmsPerCloud < 0 || o.clouds * o.vmsPerCloud > 60) {
    throw new LabError(
      "BAD_OPTION",
      `--vms must be 0..${Math.floor(60 / o.clouds)} per cloud, not ${o.vmsPerCloud}`,
    );
  }
  if (o.wanMbit !== null && (!(o.wanMbit > 0) || o.wanMbit > 10_000)) {
    throw new LabError("BAD_OPTION", `--wan-mbit must be in (0, 10000], not ${o.wanMbit}`);
  }
  if (!Number.isInteger(o.vni) || o.vni < 1 || o.vni > 0xffffff) {
    throw new LabError("BAD_OPTION", `--vni must be 1..16777215, not ${o.vni}`);
  }
}

function initialState(name: string, dir: string, options: LabOptions): LabState {
  const n = names(name);
  const wans = wanPlan(options.clouds);
  const clouds: CloudState[] = [];
  for (let i = 0; i < options.clouds; i++) {
    const p = cloudPlan(i);
    const routes: string[] = [];
    const wan = wans
      .filter((w) => w.a === p.name || w.b === p.name)
      .map((w) => {
        const peer = w.a === p.name ? w.b : w.a;
        const ip = w.a === p.name ? w.ipA : w.ipB;
        const peerIp = w.a === p.name ? w.ipB : w.ipA;
        routes.push(`${cloudPlanByName(peer).floatingRange} via ${peerIp}`);
        return { peer, intf: wanIf(peer), ip, peerIp };
      });
    clouds.push({
      name: p.name,
      provider: p.provider,
      providerPrefix: p.providerPrefix,
      floatingRange: p.floatingRange,
      bridge: n.providerBridge(p.name),
      router: {
        node: n.router(p.name),
        netns: n.router(p.name),
        pid: 0,
        providerIp: p.routerProviderIp,
        mgmtIp: p.routerMgmtIp,
        wan,
        routes,
      },
      fixedUsed: [],
      floatingUsed: [],
    });
  }
  const vms: VmState[] = [];
  for (let i = 1; i <= options.clouds * options.vmsPerCloud; i++) {
    vms.push({ name: `vm${i}`, index: i, vint0: vint0Address(i), instances: [] });
  }
  return {
    version: 1,
    name,
    prefix: n.prefix,
    dir,
    createdAt: new Date().toISOString(),
    phase: "starting",
    options,
    daemon: { pid: null, socket: join(dir, "labd.sock"), log: join(dir, "labd.log"), script: LABD_SCRIPT },
    host: {
      bridge: n.mgmtBridge(),
      address: HOST_ADDRESS,
      prefix: MGMT_PREFIX,
      routes: clouds.map((c) => `${c.floatingRange} via ${c.router.mgmtIp}`),
    },
    clouds,
    wan: wans.map((w) => ({ a: w.a, b: w.b, network: w.network, mbit: options.wanMbit })),
    vms,
    rootLinks: [],
    netns: [],
    nextInstance: 1,
  };
}

async function buildNetwork(state: LabState, log: Logger): Promise<void> {
  const n = names(state.name);
  const sock = state.daemon.socket;
  state.daemon.pid = await startDaemon(sock, state.daemon.log);
  writeState(state);
  log(`lab daemon pid ${state.daemon.pid}`);

  // Bridges in the root namespace: management network (with the machine's address) and one provider network per cloud.
  state.rootLinks.push(state.host.bridge, ...state.clouds.map((c) => c.bridge));
  writeState(state);
  await must(sock, { op: "addBridge", name: state.host.bridge });
  for (const c of state.clouds) await must(sock, { op: "addBridge", name: c.bridge });
  await run("ip", ["addr", "add", `${state.host.address}/${state.host.prefix}`, "dev", state.host.bridge]);

  // Routers: a leg on the provider network, a leg on the management network.
  for (const c of state.clouds) {
    const r = c.router;
    state.netns.push(r.netns);
    state.rootLinks.push(n.routerProviderPort(c.name), n.routerMgmtPort(c.name));
    writeState(state);
    r.pid = await addHost(state, r.node);
    await link(state, r.node, c.bridge, ROUTER_PROVIDER_IF, n.routerProviderPort(c.name));
    await link(state, r.node, state.host.bridge, ROUTER_MGMT_IF, n.routerMgmtPort(c.name));
  }
  // WAN: a point-to-point link per pair of clouds, HTB-limited when asked.
  for (const w of state.wan) {
    const ra = cloud(state, w.a).router;
    const rb = cloud(state, w.b).router;
    await must(sock, {
      op: "addLink",
      node1: ra.node,
      node2: rb.node,
      intf1: wanIf(w.b),
      intf2: wanIf(w.a),
      bw: w.mbit,
    });
  }
  writeState(state);
  await Promise.all(state.clouds.map((c) => configureRouter(c)));
  for (const c of state.clouds) {
    await run("ip", ["route", "add", c.floatingRange, "via", c.router.mgmtIp, "dev", state.host.bridge]);
  }
}

async function addHost(state: LabState, node: string): Promise<number> {
  const reply = await must(state.daemon.socket, { op: "addHost", name: node });
  const pid = reply.pid;
  if (pid === undefined) throw new LabError("DAEMON", `lab daemon gave no pid for ${node}`);
  // A named namespace, like `ip netns add`: `ip netns exec` works, and it outlives the daemon until `lab down`.
  await run("ip", ["netns", "attach", node, String(pid)]);
  return pid;
}

async function link(
  state: LabState,
  node: string,
  bridge: string,
  inside: string,
  rootPort: string,
): Promise<void> {
  await must(state.daemon.socket, {
    op: "addLink",
    node1: node,
    node2: bridge,
    intf1: inside,
    intf2: rootPort,
    bw: null,
  });
}

async function configureRouter(c: CloudState): Promise<void> {
  const r = c.router;
  const lines = [
    "ip link set lo up",
    "sysctl -qw net.ipv4.ip_forward=1",
    // Hairpin (one VM to another's floating IP in the same cloud) goes back out the provider leg: no redirects.
    "sysctl -qw net.ipv4.conf.all.send_redirects=0",
    `sysctl -qw net.ipv4.conf.${ROUTER_PROVIDER_IF}.send_redirects=0`,
    `ip addr add ${r.providerIp}/${c.providerPrefix} dev ${ROUTER_PROVIDER_IF}`,
    `ip addr add ${r.mgmtIp}/${MGMT_PREFIX} dev ${ROUTER_MGMT_IF}`,
    ...r.wan.map((w) => `ip addr add ${w.ip}/30 dev ${w.intf}`),
    // TX checksum offload off: a forwarded TCP packet must reach a VM's userspace OVS (AF_PACKET)
    // with its checksum finished, or the VM drops it.
    ...[ROUTER_PROVIDER_IF, ROUTER_MGMT_IF, ...r.wan.map((w) => w.intf)].flatMap((i) => [
      `ip link set ${i} up`,
      `ethtool -K ${i} tx off >/dev/null 2>&1 || true`,
    ]),
    ...r.routes.map((route) => `ip route add ${route}`),
  ];
  await scriptIn(r.netns, lines.join("\n"));
}

// --- VM instances -----------------------------------------------------------------------------------

/** Makes a VM instance's node, NICs and floating-IP NAT in `cloudName` (not yet its OVS: see bootInstance). */
async function createInstance(
  state: LabState,
  vm: VmState,
  cloudName: string,
  role: InstanceState["role"],
): Promise<InstanceState> {
  const n = names(state.name);
  const c = cloud(state, cloudName);
  const plan = cloudPlanByName(c.name);
  const fixedIp = nextFromPool(plan.fixedPool, c.fixedUsed);
  const floatingIp = nextFromPool(plan.floatingPool, c.floatingUsed);
  if (!fixedIp || !floatingIp)
    throw new LabError("POOL_EXHAUSTED", `cloud ${c.name} has no free fixed/floating IP left`);
  c.fixedUsed.push(fixedIp);
  c.floatingUsed.push(floatingIp);
  const id = state.nextInstance++;
  const node = n.instance(vm.name, id);
  const dir = join(state.dir, "vm", `${vm.name}-${id}`);
  const nics = Array.from({ length: state.options.nics }, (_, k) => ({
    name: `eth${k}`,
    rootPort: n.instancePort(id, k),
  }));
  const natRules: NatRule[] = [
    {
      netns: c.router.netns,
      table: "nat",
      chain: "PREROUTING",
      rule: ["-d", floatingIp, "-j", "DNAT", "--to-destination", fixedIp],
    },
    {
      netns: c.router.netns,
      table: "nat",
      chain: "POSTROUTING",
      rule: ["-s", fixedIp, "-j", "SNAT", "--to-source", floatingIp],
    },
  ];
  const inst: InstanceState = {
    id,
    node,
    netns: node,
    cloud: c.name,
    pid: 0,
    fixedIp,
    floatingIp,
    nics,
    dir,
    config: join(dir, "vm-init.json"),
    natRules,
    role,
    dpid: null,
    createdAt: new Date().toISOString(),
    ready: false,
  };
  mkdirSync(dir, { recursive: true });
  vm.instances.push(inst);
  state.netns.push(node);
  state.rootLinks.push(...nics.map((x) => x.rootPort));
  writeState(state);

  inst.pid = await addHost(state, node);
  for (const nic of nics) await link(state, node, c.bridge, nic.name, nic.rootPort);
  writeState(state);
  // NAT before the VM can send anything: a conntrack entry made without it would stay un-NATed.
  await scriptIn(c.router.netns, natRules.map((r) => iptables("-A", r)).join("\n"));
  // The VM's "hardware": loopback up, NICs up, no TX checksum offload on them (LAB-NOTES). What
  // matters for TCP into a userspace-OVS VM is the far end of its veth not leaving checksums
  // unfinished: the router's legs have TX offload off too (configureRouter).
  await scriptIn(
    node,
    [
      "ip link set lo up",
      ...nics.flatMap((x) => [`ip link set ${x.name} up`, `ethtool -K ${x.name} tx off >/dev/null`]),
    ].join("\n"),
  );
  return inst;
}

function iptables(op: "-A" | "-D", r: NatRule): string {
  return ["iptables", "-w", "5", "-t", r.table, op, r.chain, ...r.rule].map(q).join(" ");
}

/** Environment that makes ovs-vsctl, ovs-ofctl and ovs-appctl talk to this VM's OVS by default. */
export function ovsEnv(dir: string): Record<string, string> {
  return { OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
}

/** Plays the VM's operating system: starts its ovsdb-server and ovs-vswitchd, then runs vm-init as the VM would. */
async function bootInstance(state: LabState, vm: VmState, inst: InstanceState): Promise<void> {
  const d = inst.dir;
  const env = ovsEnv(d);
  const script = [
    `ovsdb-tool create ${q(`${d}/conf.db`)} ${OVS_SCHEMA}`,
    `ovsdb-server ${q(`${d}/conf.db`)} --remote=punix:${q(`${d}/db.sock`)} --pidfile=${q(`${d}/ovsdb-server.pid`)}` +
      ` --unixctl=${q(`${d}/ovsdb-server.ctl`)} --log-file=${q(`${d}/ovsdb-server.log`)} --detach --no-chdir`,
    `ovs-vsctl --db=unix:${q(`${d}/db.sock`)} --no-wait init`,
    `ovs-vswitchd unix:${q(`${d}/db.sock`)} --pidfile=${q(`${d}/ovs-vswitchd.pid`)}` +
      ` --log-file=${q(`${d}/ovs-vswitchd.log`)} --detach --no-chdir`,
  ].join("\n");
  await scriptIn(inst.netns, script, { env, timeoutMs: 20_000 });
  inst.ovsPids = {
    ovsdbServer: pidFile(`${d}/ovsdb-server.pid`),
    ovsVswitchd: pidFile(`${d}/ovs-vswitchd.pid`),
  };

  const cfg = vmInitConfig(state, vm, inst);
  writeFileSync(inst.config, `${JSON.stringify(cfg, null, 2)}\n`);
  const res = await runIn(
    inst.netns,
    ICSDN_BIN,
    ["vm-init", "apply", "--config", inst.config, "--ovs-rundir", d],
    {
      env,
      timeoutMs: 60_000,
      check: false,
    },
  );
  writeFileSync(join(d, "vm-init.log"), `${res.stdout}\n${res.stderr}\n`);
  if (res.code !== 0) {
    throw new LabError(
      "VM_INIT",
      `vm-init apply failed in ${inst.node} (exit ${res.code}):\n${res.stderr || res.stdout}`,
    );
  }
  const result = parseApply(res.stdout);
  inst.vmInit = result
    ? {
        linkingMs: result.linkingMs,
        configuredMs: result.configuredMs,
        controllerConnected: result.controllerConnected,
        linkingReport: !result.linkingReport
          ? null
          : result.linkingReport.status === "recorded"
            ? "recorded"
            : result.linkingReport.error,
      }
    : null;
  // A booting VM talks to its gateway (DHCP, metadata); one ping does the same here, so OVS has
  // snooped the gateway's MAC before the first tunnel packet (else that packet waits on OVS's ARP).
  await runIn(inst.netns, "ping", ["-c", "1", "-W", "1", cloud(state, inst.cloud).router.providerIp], {
    check: false,
    timeoutMs: 3_000,
  });
  if (result?.datapathId) {
    inst.dpid = result.datapathId;
  } else {
    const dpid = await runIn(
      inst.netns,
      "ovs-vsctl",
      ["--timeout=5", "get", "bridge", "icbr0", "datapath_id"],
      {
        env,
        check: false,
      },
    );
    inst.dpid = dpid.code === 0 ? dpid.stdout.replaceAll('"', "").trim() : null;
  }
  inst.ready = true;
}

function pidFile(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function parseApply(stdout: string): ApplyResult | null {
  try {
    return JSON.parse(stdout) as ApplyResult;
  } catch {
    return null;
  }
}

/** Removes an instance: everything running in it, its NAT rules, its node and links, its folder. */
async function removeInstance(state: LabState, vm: VmState, inst: InstanceState): Promise<void> {
  const inside = (await netnsPids(inst.netns)).filter((p) => p !== inst.pid);
  await killAll(inside);
  const c = cloud(state, inst.cloud);
  await scriptIn(c.router.netns, inst.natRules.map((r) => `${iptables("-D", r)} || true`).join("\n"), {
    check: false,
  });
  await call(state.daemon.socket, { op: "delHost", name: inst.node }).catch(() => undefined);
  await killAll((await netnsPids(inst.netns)).filter(isAlive));
  await run("ip", ["netns", "delete", inst.netns], { check: false });
  for (const nic of inst.nics) await deleteLink(nic.rootPort);
  rmSync(inst.dir, { recursive: true, force: true });
  vm.instances = vm.instances.filter((i) => i !== inst);
  remove(state.netns, inst.netns);
  for (const nic of inst.nics) remove(state.rootLinks, nic.rootPort);
  writeState(state);
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

// --- move / release ---------------------------------------------------------------------------------

/**
 * Recreates `vmName` in `to`: new node, new fixed and floating IP, same vint0, a new OVS configured
 * by vm-init. Without keepSource the old instance is removed once the new one is up; with it, both
 * run until `release`.
 */
export async function move(
  name: string,
  vmName: string,
  to: string,
  keepSource: boolean,
  log: Logger = quiet,
) {
  const dir = labDir(name);
  return withLock(dir, async () => {
    const state = readReady(dir);
    const vm = findVm(state, vmName);
    const cur = current(vm);
    if (vm.instances.length > 1) {
      throw new LabError(
        "SOURCE_RUNNING",
        `${vm.name} still has its source instance; 'icsdn lab release ${vm.name}' first`,
      );
    }
    cloud(state, to);
    if (cur.cloud === to) throw new LabError("SAME_CLOUD", `${vm.name} is already in cloud ${to}`);
    const started = Date.now();
    const inst = await createInstance(state, vm, to, "current");
    try {
      await bootInstance(state, vm, inst);
    } catch (err) {
      await removeInstance(state, vm, inst).catch(() => {});
      throw err;
    }
    cur.role = "source";
    writeState(state);
    log(
      `${vm.name}: new instance in cloud ${to} (fixed ${inst.fixedIp}, floating ${inst.floatingIp}) in ${ms(started)}`,
    );
    if (!keepSource) {
      await removeInstance(state, vm, cur);
      log(`${vm.name}: source instance in cloud ${cur.cloud} removed`);
    }
    return { vm: vm.name, from: cur.cloud, to, instance: inst };
  });
}

/** Removes a VM's source instance(s), left running by `move --keep-source`. */
export async function release(name: string, vmName: string, log: Logger = quiet): Promise<number> {
  const dir = labDir(name);
  return withLock(dir, async () => {
    const state = readReady(dir);
    const vm = findVm(state, vmName);
    const sources = vm.instances.filter((i) => i.role === "source");
    if (sources.length === 0) throw new LabError("NO_SOURCE", `${vm.name} has no source instance to release`);
    for (const inst of sources) {
      await removeInstance(state, vm, inst);
      log(`${vm.name}: instance in cloud ${inst.cloud} released`);
    }
    return sources.length;
  });
}

function readReady(dir: string): LabState {
  const state = readState(dir);
  if (state.phase !== "ready") throw new LabError("NOT_READY", `lab '${state.name}' is ${state.phase}`);
  if (state.daemon.pid === null || !isAlive(state.daemon.pid)) {
    throw new LabError(
      "DAEMON_GONE",
      `lab '${state.name}': its daemon is gone; 'icsdn lab down --name ${state.name}'`,
    );
  }
  return state;
}

// --- lookups ----------------------------------------------------------------------------------------

export function cloud(state: LabState, name: string): CloudState {
  const c = state.clouds.find((x) => x.name === name);
  if (!c) {
    throw new LabError(
      "NO_CLOUD",
      `no cloud '${name}' (clouds: ${state.clouds.map((x) => x.name).join(", ")})`,
    );
  }
  return c;
}

export function findVm(state: LabState, name: string): VmState {
  const vm = state.vms.find((v) => v.name === name);
  if (!vm) throw new LabError("NO_VM", `no VM '${name}' (VMs: ${state.vms.map((v) => v.name).join(", ")})`);
  return vm;
}

export function current(vm: VmState): InstanceState {
  const inst = vm.instances.find((i) => i.role === "current");
  if (!inst) throw new LabError("NO_INSTANCE", `${vm.name} has no running instance`);
  return inst;
}

export interface Target {
  readonly netns: string;
  readonly env: Record<string, string>;
  readonly label: string;
}

/** `vm1` (its current instance), `vm1@b` (its instance in cloud b) or `router-a`. */
export function resolveTarget(state: LabState, spec: string): Target {
  const router = /^router-([a-z])$/.exec(spec);
  if (router) {
    const c = cloud(state, router[1]!);
    return { netns: c.router.netns, env: {}, label: spec };
  }
  const [vmName, cloudName] = spec.split("@");
  const vm = findVm(state, vmName ?? "");
  let inst: InstanceState;
  if (cloudName !== undefined) {
    const found = vm.instances.find((i) => i.cloud === cloudName);
    if (!found) {
      throw new LabError(
        "NO_INSTANCE",
        `${vm.name} has no instance in cloud ${cloudName} (it has: ${vm.instances.map((i) => i.cloud).join(", ")})`,
      );
    }
    inst = found;
  } else {
    inst = current(vm);
  }
  return { netns: inst.netns, env: ovsEnv(inst.dir), label: `${vm.name}@${inst.cloud}` };
}

// --- exec -------------------------------------------------------------------------------------------

/** Runs `cmd` inside a lab node with the terminal's stdio; resolves to its exit code. */
export async function execInteractive(
  name: string,
  spec: string,
  cmd: readonly string[],
  timeoutMs?: number,
) {
  const state = readState(labDir(name));
  const t = resolveTarget(state, spec);
  const child = spawn("ip", ["netns", "exec", t.netns, ...cmd], {
    stdio: "inherit",
    env: { ...process.env, ...t.env },
  });
  const timer = timeoutMs ? setTimeout(() => child.kill("SIGTERM"), timeoutMs) : undefined;
  return new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, sig) => {
      if (timer) clearTimeout(timer);
      resolve(code ?? (sig === "SIGTERM" && timeoutMs ? 124 : 128));
    });
  });
}

/** Runs `cmd` inside a lab node and captures its output. */
export async function execCapture(
  name: string,
  spec: string,
  cmd: readonly string[],
  opts: { timeoutMs?: number; check?: boolean; input?: string } = {},
): Promise<RunResult> {
  const state = readState(labDir(name));
  const t = resolveTarget(state, spec);
  const [file, ...args] = cmd;
  if (file === undefined) throw new LabError("NO_COMMAND", "no command");
  return runIn(t.netns, file, args, {
    env: t.env,
    check: opts.check ?? true,
    timeoutMs: opts.timeoutMs,
    input: opts.input,
  });
}

/**
 * Captures up to `count` packets matching `filter` on `intf` of a lab node with tshark while
 * `during` runs (at most 10 s); returns tshark's lines (one-line summaries, or `fields` separated by spaces).
 */
export async function captureWhile(
  name: string,
  spec: string,
  intf: string,
  filter: string,
  count: number,
  during: () => Promise<unknown>,
  fields: readonly string[] = [],
): Promise<string[]> {
  const t = resolveTarget(readState(labDir(name)), spec);
  const args = [
    "netns",
    "exec",
    t.netns,
    "tshark",
    "-n",
    "-l",
    "-i",
    intf,
    "-f",
    filter,
    "-a",
    "duration:10",
  ];
  args.push("-c", String(count));
  if (fields.length) args.push("-T", "fields", ...fields.flatMap((f) => ["-e", f]), "-E", "separator=/s");
  const child = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new LabError("CAPTURE", `tshark did not start: ${stderr}`)),
      15_000,
    );
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("Capturing on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("close", () => {
      clearTimeout(timer);
      reject(new LabError("CAPTURE", `tshark exited: ${stderr}`));
    });
  });
  try {
    await during();
  } finally {
    const killer = setTimeout(() => child.kill("SIGINT"), 3_000);
    await exited;
    clearTimeout(killer);
  }
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

// --- NIC "cable" ------------------------------------------------------------------------------------

/** Unplugs / plugs a VM NIC's cable: sets the root-side end of its veth down or up (the VM sees carrier loss). */
export async function setNic(
  name: string,
  vmSpec: string,
  nic: string,
  state: "up" | "down",
): Promise<string> {
  const lab = readState(labDir(name));
  const [vmName, cloudName] = vmSpec.split("@");
  const vm = findVm(lab, vmName ?? "");
  const inst = cloudName === undefined ? current(vm) : vm.instances.find((i) => i.cloud === cloudName);
  if (!inst) throw new LabError("NO_INSTANCE", `${vmSpec}: no such instance`);
  const found = inst.nics.find((x) => x.name === nic);
  if (!found)
    throw new LabError(
      "NO_NIC",
      `${vmSpec} has no NIC ${nic} (it has ${inst.nics.map((x) => x.name).join(", ")})`,
    );
  await run("ip", ["link", "set", found.rootPort, state]);
  return found.rootPort;
}

// --- static flows (no controller) ---------------------------------------------------------------------

/**
 * The flows LAB-NOTES found to carry traffic, for one VM towards its peers (no controller needed):
 * to each peer's vint0 (IP and ARP) set the tunnel destination to the peer's floating IP and the
 * key to the VNI; from the tunnel, with the cluster's VNI and a known peer as source, to vint0.
 */
export function staticFlows(vni: number, peers: readonly { vint0: string; floatingIp: string }[]): string[] {
  const flows: string[] = [];
  for (const p of peers) {
    const out = `actions=set_field:${p.floatingIp}->tun_dst,set_field:${vni}->tun_id,output:enc0`;
    flows.push(`priority=100,in_port=vint0,ip,nw_dst=${p.vint0} ${out}`);
    flows.push(`priority=100,in_port=vint0,arp,arp_tpa=${p.vint0} ${out}`);
    flows.push(`priority=100,in_port=enc0,tun_id=${vni},tun_src=${p.floatingIp} actions=output:vint0`);
  }
  return flows;
}

/** Installs full-mesh static flows between the current instances of every VM (replacing what each switch held). */
export async function installFlows(name: string, log: Logger = quiet): Promise<number> {
  const state = readState(labDir(name));
  const live = state.vms.filter((v) => v.instances.some((i) => i.role === "current"));
  let count = 0;
  await Promise.all(
    live.map(async (vm) => {
      const me = current(vm);
      const peers = live
        .filter((p) => p !== vm)
        .map((p) => ({ vint0: p.vint0.ip, floatingIp: current(p).floatingIp }));
      const flows = staticFlows(state.options.vni, peers);
      const file = join(me.dir, "static.flows");
      writeFileSync(file, `${flows.join("\n")}\n`);
      await runIn(me.netns, "ovs-ofctl", ["-O", "OpenFlow13", "replace-flows", "icbr0", file], {
        env: ovsEnv(me.dir),
      });
      count += flows.length;
      log(`${vm.name}@${me.cloud}: ${flows.length} flows`);
    }),
  );
  return count;
}

// --- status -----------------------------------------------------------------------------------------

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

// --- down -------------------------------------------------------------------------------------------

export interface DownReport {
  readonly processes: number[];
  readonly netns: string[];
  readonly links: string[];
  readonly dirRemoved: boolean;
}

/** Removes everything the lab made, whether its daemon runs, was killed, or never started. */
export async function down(name: string, log: Logger = quiet): Promise<DownReport> {
  const dir = labDir(name);
  if (!existsSync(dir)) return teardown(name, log);
  return withLock(dir, () => teardown(name, log), 30_000);
}

async function teardown(name: string, log: Logger): Promise<DownReport> {
  const n = names(name);
  const dir = labDir(name);
  const state = tryReadState(dir);
  const killed: number[] = [];

  // 1. Polite: stop what runs in the VMs, then ask the daemon to stop mininet.
  const daemonPid = state?.daemon.pid ?? null;
  if (state && daemonPid !== null && isAlive(daemonPid)) {
    for (const vm of state.vms) {
      for (const inst of vm.instances) {
        killed.push(...(await killAll((await netnsPids(inst.netns)).filter((p) => p !== inst.pid))));
      }
    }
    await call(state.daemon.socket, { op: "stop" }, 5_000).catch(() => undefined);
    const deadline = Date.now() + 10_000;
    while (isAlive(daemonPid) && Date.now() < deadline) await sleep(50);
  }

  // 2. Whatever is left in our namespaces (named by the prefix, or recorded), then the namespaces.
  const nsNames = new Set([
    ...(state?.netns ?? []),
    ...(await listNetns()).filter((x) => x.startsWith(n.prefix)),
  ]);
  for (const ns of nsNames) {
    const pids = await netnsPids(ns);
    if (pids.length) killed.push(...(await killAll(pids, 1_000)));
  }
  const removedNs: string[] = [];
  for (const ns of nsNames) {
    const res = await run("ip", ["netns", "delete", ns], { check: false });
    if (res.code === 0) removedNs.push(ns);
  }

  // 3. Our processes by name: mininet shells of our nodes, anything started from our folder, the daemon.
  const ours = processes().filter(
    (p) =>
      p.pid !== process.pid &&
      (p.cmdline.includes(`mininet:${n.prefix}`) ||
        p.cmdline.includes(`${dir}/`) ||
        (daemonPid !== null && p.pid === daemonPid && p.cmdline.includes("labd.py"))),
  );
  if (ours.length)
    killed.push(
      ...(await killAll(
        ours.map((p) => p.pid),
        1_000,
      )),
    );

  // 4. Root-namespace links: bridges, and veth ends whose other end did not die with its namespace yet.
  const removedLinks: string[] = [];
  const deadline = Date.now() + 5_000;
  for (;;) {
    const links = new Set([
      ...(state?.rootLinks ?? []),
      ...(await rootLinks()).filter((l) => l.startsWith(n.prefix)),
    ]);
    const present = (await rootLinks()).filter((l) => links.has(l));
    if (present.length === 0 || Date.now() > deadline) break;
    for (const l of present) {
      if (await deleteLink(l)) removedLinks.push(l);
    }
    await sleep(50);
  }

  // 5. The folder (state, VM folders with OVS databases and logs, daemon socket and log).
  const dirRemoved = existsSync(dir);
  rmSync(dir, { recursive: true, force: true });
  try {
    rmdirSync(stateRoot()); // only when no other lab's folder is left in it
  } catch {
    // not empty, or already gone
  }
  const report = {
    processes: [...new Set(killed)],
    netns: removedNs,
    links: [...new Set(removedLinks)],
    dirRemoved,
  };
  log(
    `lab '${name}' down: ${report.processes.length} processes, ${report.netns.length} namespaces, ${report.links.length} links removed`,
  );
  return report;
}

/** What of a lab's is on the machine, found by its prefix alone (no state file needed). */
export async function leftovers(
  name: string,
): Promise<{ netns: string[]; links: string[]; processes: number[] }> {
  const prefix = names(name).prefix;
  const dirMark = labDir(name);
  return {
    netns: (await listNetns()).filter((x) => x.startsWith(prefix)),
    links: (await rootLinks()).filter((l) => l.startsWith(prefix)),
    processes: processes()
      .filter((p) => p.cmdline.includes(`mininet:${prefix}`) || p.cmdline.includes(`${dirMark}/`))
      .map((p) => p.pid),
  };
}

async function listNetns(): Promise<string[]> {
  const res = await run("ip", ["netns", "list"], { check: false });
  return res.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

async function netnsPids(ns: string): Promise<number[]> {
  const res = await run("ip", ["netns", "pids", ns], { check: false });
  if (res.code !== 0) return [];
  return res.stdout
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 1);
}

async function rootLinks(): Promise<string[]> {
  const res = await run("ip", ["-j", "link", "show"], { check: false });
  if (res.code !== 0 || !res.stdout) return [];
  return (JSON.parse(res.stdout) as { ifname: string }[]).map((l) => l.ifname);
}

async function deleteLink(ifname: string): Promise<boolean> {
  const res = await run("ip", ["link", "del", ifname], { check: false });
  return res.code === 0;
}

function ms(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}
