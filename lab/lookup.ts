/** Finding things in a lab's state: a cloud, a VM, its current instance, a node to run commands in. */
import { isAlive } from "./sh.ts";
import {
  type CloudState,
  type InstanceState,
  LabError,
  type LabState,
  readState,
  type VmState,
} from "./state.ts";

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

/** Environment that makes ovs-vsctl, ovs-ofctl and ovs-appctl talk to this VM's OVS by default. */
export function ovsEnv(dir: string): Record<string, string> {
  return { OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir };
}

export function readReady(dir: string): LabState {
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
