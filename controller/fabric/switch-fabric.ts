import type {
  DowntimeReport,
  OpenFlowErrorInfo,
  ProbeLinkReport,
} from "../../contract/controller-api/index.ts";
import type { Ipv4 } from "../../contract/dataplane/index.ts";
import type { SwitchBatch } from "../compiler/transition-planner.ts";
import type { ClusterState } from "../model/cluster-state.ts";

// The REST API reports these as they are: one definition, in the contract.
export type { DowntimeReport, OpenFlowErrorInfo, ProbeLinkReport };

/** What became of one switch's batch. */
export type BatchOutcome =
  | {
      readonly dpid: bigint;
      /** Applied and confirmed by a barrier reply. */
      readonly status: "confirmed";
      /** From sending the batch to the barrier reply. */
      readonly ms: number;
      /**
       * FLOW_MODs actually sent (adds, deletes), when the fabric knows: it leaves out what the
       * switch provably already holds or lacks, so these may be below the batch's counts, down to
       * 0/0 (confirmed at once, nothing sent, `ms` then the time it took to decide that).
       */
      readonly sent?: { readonly add: number; readonly delete: number };
    }
  | {
      readonly dpid: bigint;
      /** No session for this switch: nothing was sent; the switch is reconciled when it connects. */
      readonly status: "not-connected";
    }
  | {
      readonly dpid: bigint;
      /** The switch refused the batch (OpenFlow error), or did not confirm in time. */
      readonly status: "failed";
      readonly error:
        | OpenFlowErrorInfo
        | { readonly type: "TIMEOUT" | "DISCONNECTED"; readonly message: string };
    };

/** One switch session as the fabric sees it. */
export interface SwitchStatus {
  readonly dpid: bigint;
  readonly connected: boolean;
  /** The session's peer address (the VM's underlay/floating address as seen from the controller). */
  readonly remoteAddress: string | null;
  /** Flow entries the switch holds, as of the fabric's last count; null if unknown. */
  readonly ruleCount: number | null;
  /** How long ago the session's connection was accepted (ms). */
  readonly connectedForMs: number;
}

/** What a fabric does around one rebind; `finish` ends it once every phase has run (or failed). */
export interface RebindWatch {
  /** Stops probing; null when nothing could be measured (no probe reached its target). */
  finish(): Promise<DowntimeReport | null>;
}

/** The rebind about to run: `state` is the cluster before it. */
export interface RebindIntent {
  readonly state: ClusterState;
  readonly vmId: string;
  readonly endpoint: Ipv4;
}

/**
 * The switches, as the cluster logic needs them. The OpenFlow server implements it; nothing
 * else in the controller opens sockets.
 *
 * `apply` sends each batch to its switch, all switches in parallel: per switch the batch's adds
 * then its deletes (see compiler/flow-mod.ts), as one atomic bundle where the switch supports
 * bundles, then a barrier; it resolves with one outcome per batch, in order, once every switch
 * has confirmed, failed or timed out. It rejects only if the fabric itself is broken. A batch with
 * `fresh: true` goes to the session of the instance at `batch.endpoint` when two sessions share
 * the dpid (a moved VM's old and new instance).
 */
export interface SwitchFabric {
  apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]>;
  switches(): Promise<SwitchStatus[]>;
  /** Whether a switch with this dpid has a ready session now (one lookup, for a rebind's check). */
  isConnected(dpid: bigint): boolean;
  /**
   * Optional: called under the cluster's lock just before a rebind's first phase. The OpenFlow
   * fabric primes the new tunnel path (so the first packets to the new endpoint are not lost to
   * next-hop resolution) and starts downtime probes across the moving member's links; it resolves
   * once the priming packets are written.
   */
  beginRebind?(intent: RebindIntent): Promise<RebindWatch | undefined>;
  /**
   * Optional: member `vmId` announced `endpoint` as its next one (peers accept it now). The
   * OpenFlow fabric has every peer start resolving its tunnel next hop toward it (resolves once
   * each peer's packet is written).
   */
  primeNextEndpoint?(state: ClusterState, vmId: string, endpoint: Ipv4): Promise<void>;
}
