import type { PhaseReport, SwitchReport } from "../../contract/controller-api/index.ts";
import { formatDpid } from "../../contract/dataplane/index.ts";
import type { TransitionPhase } from "../compiler/transition-planner.ts";
import type { SwitchFabric } from "../fabric/switch-fabric.ts";

export interface PlanRunResult {
  /** Every phase ran and every batch counted as done. */
  readonly ok: boolean;
  readonly phases: readonly PhaseReport[];
  /**
   * Clock time the last phase adding rules was confirmed: from then on every switch holds its new
   * rules, and what follows only removes. Null if no phase added anything.
   */
  readonly addedAt: number | null;
}

/**
 * Sends a plan phase by phase; a phase starts only when the previous one is fully confirmed. A
 * failed batch, or an unconnected switch listed in `mustConfirm`, stops the run before the next
 * phase: never break what the failed phase was to make. An unconnected switch elsewhere is fine:
 * it is reconciled to the stored state when it connects.
 */
export async function runPlan(
  fabric: SwitchFabric,
  plan: readonly TransitionPhase[],
  options: { mustConfirm?: ReadonlySet<bigint>; clock?: () => number } = {},
): Promise<PlanRunResult> {
  const clock = options.clock ?? (() => performance.now());
  const mustConfirm = options.mustConfirm ?? new Set<bigint>();
  const phases: PhaseReport[] = [];
  let addedAt: number | null = null;
  for (const phase of plan) {
    if (phase.batches.length === 0) {
      phases.push({ phase: phase.name, ms: 0, switches: [] });
      continue;
    }
    const started = clock();
    const outcomes = await fabric.apply(phase.batches);
    const ended = clock();
    const ms = ended - started;
    if (outcomes.length !== phase.batches.length) {
      throw new Error(`fabric returned ${outcomes.length} outcomes for ${phase.batches.length} batches`);
    }
    let ok = true;
    const switches = phase.batches.map((batch, i): SwitchReport => {
      const outcome = outcomes[i]!;
      if (outcome.dpid !== batch.dpid) throw new Error("fabric returned outcomes out of order");
      const base = {
        dpid: formatDpid(batch.dpid),
        vmId: batch.vmId,
        added: batch.add.length,
        deleted: batch.delete.length,
      };
      if (outcome.status === "confirmed") {
        // What the switch was really sent: the fabric skips rules it provably holds already.
        const added = outcome.sent?.add ?? base.added;
        const deleted = outcome.sent?.delete ?? base.deleted;
        return { ...base, added, deleted, status: "confirmed", ms: outcome.ms };
      }
      if (outcome.status === "failed") {
        ok = false;
        return { ...base, status: "failed", ms: null, error: outcome.error };
      }
      if (mustConfirm.has(batch.dpid)) ok = false;
      return { ...base, status: "not-connected", ms: null };
    });
    phases.push({ phase: phase.name, ms, switches });
    if (!ok) return { ok: false, phases, addedAt };
    if (phase.batches.some((b) => b.add.length > 0)) addedAt = ended;
  }
  return { ok: true, phases, addedAt };
}
