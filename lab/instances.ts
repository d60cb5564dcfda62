/** Lab VM instances: their node, NICs and NAT (create), their OS and vm-init (boot), removal, move and release. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ApplyResult } from "../vm-init/apply.ts";
import { call } from "./daemon.ts";
import { deleteLink, netnsPids } from "./inventory.ts";
import { type Logger, ms, quiet } from "./log.ts";
import { cloud, current, findVm, ovsEnv, readReady } from "./lookup.ts";
import { addHost, link } from "./network.ts";
import { ICSDN_BIN } from "./paths.ts";
import { cloudPlanByName, names, nextFromPool } from "./plan.ts";
import { isAlive, killAll, q, run, runIn, scriptIn } from "./sh.ts";
import {
  type InstanceState,
  LabError,
  type LabState,
  labDir,
  type NatRule,
  type VmState,
  withLock,
  writeState,
} from "./state.ts";
import { vmInitConfig } from "./vminit.ts";

const OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";

/** Makes a VM instance's node, NICs and floating-IP NAT in `cloudName` (not yet its OVS: see bootInstance). */
export async function createInstance(
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

/** Plays the VM's operating system: starts its ovsdb-server and ovs-vswitchd, then runs vm-init as the VM would. */
export async function bootInstance(state: LabState, vm: VmState, inst: InstanceState): Promise<void> {
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
export async function removeInstance(state: LabState, vm: VmState, inst: InstanceState): Promise<void> {
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
