/** The vm-init config the lab writes for each lab VM instance (what cloud-init user-data carries on a real VM). */

import { datapathIdFor, formatDpid } from "../contract/dataplane/index.ts";
import type { VmInitConfigInput } from "../vm-init/config.ts";
import { parseConfig } from "../vm-init/validate.ts";
import { UNDERLAY_MTU } from "./plan.ts";
import type { InstanceState, LabState, VmState } from "./state.ts";

export function vmInitConfig(state: LabState, vm: VmState, inst: InstanceState): VmInitConfigInput {
  const cloud = state.clouds.find((c) => c.name === inst.cloud);
  if (!cloud) throw new Error(`no cloud ${inst.cloud}`);
  const config: VmInitConfigInput = {
    clusterId: state.options.clusterId,
    vni: state.options.vni,
    tunnel: state.options.tunnel,
    // OVS's userspace datapath: this kernel has no openvswitch module (LAB-NOTES).
    datapath: "netdev",
    vint0: { address: `${vm.vint0.ip}/${vm.vint0.prefix}`, mac: vm.vint0.mac },
    underlay: {
      nics: inst.nics.map((n) => n.name),
      address: `${inst.fixedIp}/${cloud.providerPrefix}`,
      gateway: cloud.router.providerIp,
      mtu: UNDERLAY_MTU,
      bondMode: "active-backup",
    },
    controller: { targets: [...state.options.controllers] },
  };
  const rest = state.options.controllerRest;
  if (rest)
    Object.assign(config.controller!, { restUrl: rest.url, vmId: vm.name, tokenFile: rest.tokenFile });
  // vm-init's own schema check, so a bad lab config fails here naming the field, before any VM is touched.
  parseConfig(config);
  return config;
}

/** The dpid vm-init gives a member's icbr0 (16 hex digits). */
export function expectedDpid(state: LabState, vm: VmState): string {
  return formatDpid(datapathIdFor(state.options.vni, vm.vint0.ip));
}
