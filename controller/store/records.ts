import type { DowntimeReport, PhaseReport } from "../../contract/controller-api/index.ts";

/** How long one VM took from vm-init's network step to its switch connected (reported by vm-init). */
export interface LinkingRecord {
  readonly id: number;
  readonly clusterId: string;
  readonly vmId: string;
  readonly linkingMs: number;
  /** ISO 8601, UTC. */
  readonly at: string;
}

export type RebindResult = "ok" | "failed";

/** Work after a rebind's answer (cleanup, downtime probes): pending until it has ended. */
export type RebindCompletion = "pending" | "done";

/**
 * One rebind attempt that reached the switches: from which endpoint to which, how long it took,
 * and (filled in after the answer) how its cleanup went and what downtime the probes saw.
 */
export interface RebindRecord {
  readonly id: number;
  readonly clusterId: string;
  readonly vmId: string;
  readonly oldEndpoint: string | null;
  readonly newEndpoint: string;
  readonly updateMs: number;
  readonly result: RebindResult;
  readonly at: string;
  readonly completion: RebindCompletion;
  readonly cleanup: PhaseReport | null;
  readonly totalMs: number | null;
  readonly downtime: DowntimeReport | null;
}

/** What the work after the answer found, written once when it ends. */
export interface RebindCompletionReport {
  readonly cleanup: PhaseReport | null;
  readonly totalMs: number | null;
  readonly downtime: DowntimeReport | null;
}
