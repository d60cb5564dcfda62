/**
 * The controller's REST API (/v1) as its clients see it: request and response bodies. The
 * controller's JSON Schemas (controller/api/schemas.ts) describe the same shapes for validation
 * and /openapi.json; its views and reports are type-checked against these
 * (test/contract/api-types.test.ts).
 */
import type { Ipv4, TunnelType } from "../dataplane/index.ts";

/** A group of VMs that share one private network (their vint0s) over tunnels with one VNI. */
export interface Cluster {
  readonly id: string;
  readonly vni: number;
  readonly tunnel: TunnelType;
  readonly description: string;
}

/** A member as a caller describes it (POST .../members, or in a cluster's creation). */
export interface MemberInput {
  readonly vmId: string;
  /** The VM's static cluster address on vint0. */
  readonly vint0: Ipv4;
  /** Where peers send tunnel packets for it; null or absent while unknown. */
  readonly endpoint?: Ipv4 | null;
  readonly description?: string;
}

/** POST /v1/clusters: a cluster with its first members, created together or not at all. */
export interface ClusterInput {
  readonly id: string;
  readonly vni: number;
  readonly tunnel: TunnelType;
  readonly description?: string;
  readonly members?: readonly MemberInput[];
}

/** A member as the controller answers it. */
export interface Member {
  readonly clusterId: string;
  readonly vmId: string;
  readonly vint0: Ipv4;
  readonly endpoint: Ipv4 | null;
  /** Announced endpoint of its next move (PUT .../next-endpoint): peers already accept it. */
  readonly nextEndpoint: Ipv4 | null;
  /** Its switch's datapath id, 16 hex digits (contract/dataplane formatDpid). */
  readonly dpid: string;
  readonly description: string;
}

export interface ClusterWithMembers extends Cluster {
  readonly members: readonly Member[];
}

/** PATCH /v1/clusters/{id}: only the description may change; vni and tunnel may be given unchanged. */
export interface ClusterPatch {
  readonly description?: string;
  readonly vni?: number;
  readonly tunnel?: TunnelType;
}

/** PATCH .../members/{vmId}: only the description may change (endpoints change by rebind). */
export interface MemberPatch {
  readonly description?: string;
  readonly vint0?: Ipv4;
  readonly endpoint?: Ipv4 | null;
}

/** POST .../rebind and PUT .../next-endpoint. */
export interface EndpointInput {
  readonly endpoint: Ipv4;
}

/** An OpenFlow error a switch answered with, by name. */
export interface OpenFlowErrorInfo {
  readonly type: string;
  readonly code: string;
  readonly message: string;
}

/** One switch's part in one phase of a rebind. */
export interface SwitchReport {
  readonly dpid: string;
  readonly vmId: string;
  readonly status: "confirmed" | "not-connected" | "failed";
  /** Batch sent -> barrier reply, for confirmed batches. */
  readonly ms: number | null;
  readonly added: number;
  readonly deleted: number;
  readonly error?: OpenFlowErrorInfo | { readonly type: string; readonly message: string };
}

export type RebindPhase = "prepare" | "switch" | "cleanup";

export interface PhaseReport {
  readonly phase: RebindPhase;
  readonly ms: number;
  readonly switches: readonly SwitchReport[];
}

/** One probed link of a rebind: probes sent at `from`'s switch toward `to`, caught at `to`'s. */
export interface ProbeLinkReport {
  readonly from: string;
  readonly to: string;
  readonly sent: number;
  readonly received: number;
  readonly longestGapMs: number;
}

/** Downtime as the controller's probes saw it across one rebind. */
export interface DowntimeReport {
  readonly ms: number;
  /** Time between two probes on one link: the resolution of `ms`. */
  readonly intervalMs: number;
  readonly links: readonly ProbeLinkReport[];
}

/**
 * POST .../rebind's answer, sent at update time: once every affected switch has confirmed the
 * new rules. Cleanup (peers stop accepting the old endpoint) and the downtime measurement run
 * after it; the rebind's history record (`rebindId`, GET .../rebinds/{rebindId}) gets them.
 */
export interface RebindReport {
  readonly clusterId: string;
  readonly vmId: string;
  readonly oldEndpoint: Ipv4 | null;
  readonly endpoint: Ipv4;
  /** False when the member already had this endpoint: nothing was sent, nothing recorded. */
  readonly changed: boolean;
  /** The rebind's history record (GET .../rebinds/{rebindId}); null when nothing changed. */
  readonly rebindId: number | null;
  /** Request received -> every affected switch confirmed its new rules (before cleanup). */
  readonly updateMs: number;
  /** The phases run before the answer (prepare, switch); cleanup is in the history record. */
  readonly phases: readonly PhaseReport[];
}

/** Members one POST /v1/clusters/{id}/rebinds may move (a mediation's cluster has at most 1,000). */
export const MAX_BATCH_REBINDS = 1_000;

/** One member of a batch rebind: where it runs now. */
export interface MemberEndpointInput {
  readonly vmId: string;
  readonly endpoint: Ipv4;
}

/** POST /v1/clusters/{id}/rebinds: every listed member at once (an atomic commit's rebinds). */
export interface BatchRebindInput {
  readonly rebinds: readonly MemberEndpointInput[];
}

/** One member's part of a batch rebind's answer: its RebindReport without the shared phases. */
export type BatchRebindEntry = Omit<RebindReport, "clusterId" | "phases">;

/**
 * POST /v1/clusters/{id}/rebinds's answer, at update time: every member that changed endpoint is
 * committed, each with its own history record (`rebindId`); one cleanup round follows for all of
 * them. Members already at their endpoint are listed with `changed: false`, as a single rebind
 * answers.
 */
export interface BatchRebindReport {
  readonly clusterId: string;
  /** Request received -> every affected switch confirmed (the same for every member that changed). */
  readonly updateMs: number;
  /** The phases run before the answer (prepare, switch), once for the whole batch. */
  readonly phases: readonly PhaseReport[];
  /** In the request's order. */
  readonly rebinds: readonly BatchRebindEntry[];
}

/**
 * A rebind's work after its answer: "pending" while cleanup and the downtime probes run, "done"
 * once the record's `cleanup`, `totalMs` and `downtime` are final. A failed rebind is done at once.
 */
export type RebindCompletion = "pending" | "done";

/** GET .../rebinds and GET .../rebinds/{rebindId}: one rebind attempt that reached the switches. */
export interface RebindRecord {
  readonly id: number;
  readonly clusterId: string;
  readonly vmId: string;
  readonly oldEndpoint: Ipv4 | null;
  readonly newEndpoint: Ipv4;
  readonly updateMs: number;
  /** ok: every switch sends to the new endpoint and the store has it; failed: nothing was committed. */
  readonly result: "ok" | "failed";
  /** ISO 8601, UTC. */
  readonly at: string;
  readonly completion: RebindCompletion;
  /**
   * The cleanup phase as it ran (a switch that failed it still accepts the old endpoint until it
   * is reconciled); null while pending and for a failed rebind.
   */
  readonly cleanup: PhaseReport | null;
  /** Request received -> cleanup ended; null while pending and for a failed rebind. */
  readonly totalMs: number | null;
  /** The controller's probes across the rebind; null while pending, or when nothing was measured. */
  readonly downtime: DowntimeReport | null;
}

/** POST /v1/linking: vm-init's linking time of one VM. */
export interface LinkingInput {
  readonly clusterId: string;
  readonly vmId: string;
  readonly linkingMs: number;
}

export interface LinkingRecord extends LinkingInput {
  readonly id: number;
  /** ISO 8601, UTC. */
  readonly at: string;
}

/** GET /v1/switches: a member's switch session (or its absence), or a connected switch that is no member. */
export interface SwitchEntry {
  readonly dpid: string;
  readonly clusterId: string | null;
  readonly vmId: string | null;
  readonly connected: boolean;
  /** The member's stored endpoint. */
  readonly endpoint: Ipv4 | null;
  /** Where the session comes from, as the controller sees it. */
  readonly remoteAddress: string | null;
  /**
   * How long the session has been up (ms), null when none is. It tells a new session from one
   * that was there before, wherever both come from (two VMs behind one cloud router's SNAT).
   */
  readonly connectedForMs: number | null;
  /** What the switch holds, null if unknown. */
  readonly ruleCount: number | null;
  /** What it should hold; null for a switch that is no member. */
  readonly desiredRuleCount: number | null;
}
