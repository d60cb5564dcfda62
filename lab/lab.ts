/**
 * The lab: several emulated clouds on this machine, built on mininet (through the lab daemon) and
 * configured from here by entering each node's named network namespace.
 *
 * A cloud = a provider network (Linux bridge in the root namespace) + a router node doing 1:1
 * floating-IP NAT + lab VMs. A lab VM = a mininet host running its own ovsdb-server and
 * ovs-vswitchd (userspace datapath, files under the VM's folder) configured by `icsdn vm-init apply`,
 * exactly as a real VM. See plan.ts for the address plan.
 *
 * This file brings a lab up; each other job has its file (network, instances, exec, flows, status,
 * teardown), re-exported here as the lab's one API.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LABD_SCRIPT, tail } from "./daemon.ts";
import { bootInstance, createInstance } from "./instances.ts";
import { type Logger, ms, quiet } from "./log.ts";
import { buildNetwork } from "./network.ts";
import {
  CLOUD_NAMES,
  cloudPlan,
  cloudPlanByName,
  HOST_ADDRESS,
  initialCloud,
  MGMT_PREFIX,
  names,
  vint0Address,
  wanIf,
  wanPlan,
} from "./plan.ts";
import {
  type CloudState,
  type InstanceState,
  LabError,
  type LabOptions,
  type LabState,
  labDir,
  type VmState,
  withLock,
  writeState,
} from "./state.ts";
import { listLabs } from "./status.ts";
import { leftovers, teardown } from "./teardown.ts";

export { captureWhile, execCapture, execInteractive, setNic } from "./exec.ts";
export { installFlows, staticFlows } from "./flows.ts";
export { move, release } from "./instances.ts";
export type { Logger } from "./log.ts";
export { cloud, current, findVm, ovsEnv, resolveTarget, type Target } from "./lookup.ts";
export { ICSDN_BIN, REPO_ROOT } from "./paths.ts";
export { type InstanceView, listLabs, type StatusView, status, type VmView } from "./status.ts";
export { type DownReport, down, leftovers } from "./teardown.ts";

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
