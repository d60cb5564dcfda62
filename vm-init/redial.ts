import { setTimeout as sleep } from "node:timers/promises";
import type { VmInitConfig } from "./config.ts";
import { connectedTargetNow } from "./controller-wait.ts";
import { CLUSTER_BRIDGE, CONTROLLER_MAX_BACKOFF_MS } from "./names.ts";
import { checkVswitchd, openOvs } from "./ovs.ts";
import { planControllerRestart } from "./ovs-plan.ts";
import { Shell, type Target } from "./shell.ts";

export interface RedialResult {
  connected: boolean;
  /** The target icbr0 connected to, when it did. */
  target?: string;
  /** Times the controllers were set anew. */
  redials: number;
}

/** How long a redial lets one dial run before it sets the controllers anew. */
const REDIAL_EVERY_MS = 1000;
/**
 * How often it looks for the connection meanwhile: a background process, not a measurement (apply's
 * millisecond wait for the linking time would cost it a few % of a CPU for minutes).
 */
const LOOK_MS = 100;

/**
 * Dials icbr0's controllers about every second until one connection is up, for at most `forMs`.
 *
 * Open vSwitch dials a controller it has not reached yet with a backoff that grows to 8 s (the
 * Controller's max_backoff applies only to a connection once up): a VM whose route to the
 * controller comes after it booted (a floating IP added once the server is ACTIVE) would wait up
 * to 8 s more. A controller row set anew dials at once, so every `everyMs` without a connection
 * the rows are dropped (waiting for ovs-vswitchd to close them) and set again.
 */
export async function redial(
  config: VmInitConfig,
  target: Target = {},
  opts: { forMs: number; everyMs?: number },
): Promise<RedialResult> {
  const targets = config.controller.targets;
  if (targets.length === 0) return { connected: false, redials: 0 };
  const sh = new Shell(target);
  const db = await openOvs(sh.ovsRundir);
  const everyMs = opts.everyMs ?? REDIAL_EVERY_MS;
  const deadline = performance.now() + opts.forMs;
  let redials = 0;
  try {
    const pid = checkVswitchd(sh.ovsRundir);
    for (;;) {
      const dialEnds = Math.min(performance.now() + everyMs, deadline);
      for (;;) {
        const up = connectedTargetNow(targets, pid);
        if (up !== undefined) return { connected: true, target: up, redials };
        if (performance.now() >= dialEnds) break;
        await sleep(Math.min(LOOK_MS, dialEnds - performance.now()));
      }
      if (performance.now() >= deadline) return { connected: false, redials };
      const ovs = db.observed();
      const have = ovs.state.bridges.find((b) => b.name === CLUSTER_BRIDGE);
      // icbr0 gone (a teardown) or its controllers changed by hand: not ours to redial.
      if (
        !have ||
        have.controllers
          .map((c) => c.target)
          .sort()
          .join() !== [...targets].sort().join()
      )
        return { connected: false, redials };
      const want = {
        ...have,
        controllers: targets.map((t) => ({ target: t, maxBackoff: CONTROLLER_MAX_BACKOFF_MS })),
      };
      const { remove, add } = planControllerRestart(want, have, ovs.uuids);
      await db.transact(remove, { wait: true, what: "drop icbr0's backed-off controllers", basis: ovs });
      await db.transact(add, { wait: false, what: "set icbr0's controllers", basis: ovs });
      redials++;
    }
  } finally {
    db.close();
  }
}
