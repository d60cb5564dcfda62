import type { SwitchBatch } from "../compiler/transition-planner.ts";

/** An OpenFlow error a switch answered with, by the names proto gives its type and code. */
export interface OpenFlowErrorInfo {
  readonly type: string;
  readonly code: string;
  readonly message: string;
}

/** What became of one switch's batch. */
export type BatchOutcome =
  | {
      readonly dpid: bigint;
      /** Applied and confirmed by a barrier reply. */
      readonly status: "confirmed";
      /** From sending the batch to the barrier reply. */
      readonly ms: number;
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
}
