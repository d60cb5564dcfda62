import type { VmInitConfig } from "./config.ts";
import { ipBatch, readKernel } from "./ip.ts";
import { planIp } from "./ip-plan.ts";
import { MANAGED_BRIDGES } from "./names.ts";
import { checkVswitchd, openOvs } from "./ovs.ts";
import { planOvs } from "./ovs-plan.ts";
import { kernelAfterTeardown, ownBridges } from "./restore.ts";
import { Shell, type Target } from "./shell.ts";

export interface TeardownResult {
  changed: boolean;
  /** Bridges deleted (vm-init's own only). */
  removedBridges: string[];
  /** icbr0/icbond0 bridges left alone because vm-init did not make them. */
  skippedBridges: string[];
  ipCommands: number;
}

/**
 * Removes what apply built and nothing else: icbr0 and icbond0 if they carry vm-init's mark
 * (their ports, interfaces and controllers go with them), ARP back on for the NICs, and in
 * takeover mode the underlay address and default route back on the first NIC.
 */
export async function teardown(config: VmInitConfig, target: Target = {}): Promise<TeardownResult> {
  const sh = new Shell(target);
  const db = await openOvs(sh.ovsRundir);
  try {
    await checkVswitchd(sh.ovsRundir);
    const kernel = await readKernel(sh);
    const ovs = db.observed();
    const own = ownBridges(ovs.state);
    const plan = planOvs({ bridges: [] }, own, ovs.uuids);
    // Planned before the bridges go: in takeover mode the address to give back is on icbond0.
    const ipPlan = planIp(kernelAfterTeardown(config, kernel), kernel);
    if (plan.ops.length > 0) {
      await db.transact(plan.ops, { wait: true, what: "delete icbr0 and icbond0", basis: ovs });
    }
    await ipBatch(sh, ipPlan);
    return {
      changed: plan.ops.length + ipPlan.length > 0,
      removedBridges: own.bridges.map((b) => b.name),
      skippedBridges: ovs.state.bridges
        .filter((b) => MANAGED_BRIDGES.includes(b.name) && !own.bridges.includes(b))
        .map((b) => b.name),
      ipCommands: ipPlan.length,
    };
  } finally {
    db.close();
  }
}
