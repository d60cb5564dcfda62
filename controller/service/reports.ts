import type { PhaseName } from "../compiler/transition-planner.ts";
import type { DowntimeReport, OpenFlowErrorInfo } from "../fabric/switch-fabric.ts";

/** One switch's part in one phase, as the API returns it. */
export interface SwitchReport {
  /** 16 hex digits. */
  readonly dpid: string;
  readonly vmId: string;
  readonly status: "confirmed" | "not-connected" | "failed";
  /** Send to barrier reply, for confirmed batches. */
  readonly ms: number | null;
  readonly added: number;
  readonly deleted: number;
  readonly error?: OpenFlowErrorInfo | { readonly type: string; readonly message: string };
}

export interface PhaseReport {
  readonly phase: PhaseName;
  readonly ms: number;
  readonly switches: readonly SwitchReport[];
}

export interface RebindReport {
  readonly clusterId: string;
  readonly vmId: string;
  readonly oldEndpoint: string | null;
  readonly endpoint: string;
  /** False when the member already had this endpoint: nothing was sent. */
  readonly changed: boolean;
  /**
   * Update time: request received -> every affected switch confirmed the new rules (see
   * DESIGN.md): the end of the last phase that adds rules. Cleanup (removing what the old
   * endpoint needed) runs after it, before the answer; `totalMs` includes it.
   */
  readonly updateMs: number;
  /** Request received -> every phase confirmed, cleanup included. */
  readonly totalMs: number;
  readonly phases: readonly PhaseReport[];
  /** The controller's probes across the rebind; null when the fabric does not probe. */
  readonly downtime: DowntimeReport | null;
}
