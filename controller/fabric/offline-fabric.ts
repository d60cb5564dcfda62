import type { SwitchBatch } from "../compiler/transition-planner.ts";
import type { BatchOutcome, SwitchFabric, SwitchStatus } from "./switch-fabric.ts";

/**
 * The fabric while no OpenFlow listener runs: no switch is connected, so nothing is sent. Member
 * changes still commit (switches get reconciled when they connect); rebinds are refused, since
 * make-before-break needs the moving member's switch.
 */
export class OfflineFabric implements SwitchFabric {
  async apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]> {
    return batches.map((b) => ({ dpid: b.dpid, status: "not-connected" }));
  }

  async switches(): Promise<SwitchStatus[]> {
    return [];
  }

  isConnected(): boolean {
    return false;
  }
}
