import type { PhaseName } from "../compiler/transition-planner.ts";
import type { OpenFlowErrorInfo } from "../fabric/switch-fabric.ts";

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

/**
 * A rebind's answer, at update time. Cleanup and the downtime probes run after it and are
 * written to the rebind's history record (`rebindId`).
 */
export interface RebindReport {
  readonly clusterId: string;
  readonly vmId: string;
  readonly oldEndpoint: string | null;
  readonly endpoint: string;
  /** False when the member already had this endpoint: nothing was sent, nothing recorded. */
  readonly changed: boolean;
  /** The history record (store RebindRecord.id); null when nothing changed. */
  readonly rebindId: number | null;
  /**
   * Update time: request received -> every affected switch confirmed the new rules (see
   * DESIGN.md): the end of the last phase that adds rules, when the answer is sent.
   */
  readonly updateMs: number;
  /** The phases run before the answer (prepare, switch). */
  readonly phases: readonly PhaseReport[];
}
