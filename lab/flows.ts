/** Static full-mesh tunnel flows between the lab's VMs, for a lab without a controller. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Logger, quiet } from "./log.ts";
import { current, ovsEnv } from "./lookup.ts";
import { runIn } from "./sh.ts";
import { labDir, readState } from "./state.ts";

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
