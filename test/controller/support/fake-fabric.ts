import type { Rule } from "../../../controller/compiler/rule.ts";
import type { SwitchBatch } from "../../../controller/compiler/transition-planner.ts";
import type {
  BatchOutcome,
  OpenFlowErrorInfo,
  SwitchFabric,
  SwitchStatus,
} from "../../../controller/fabric/switch-fabric.ts";
import { applyBatch } from "./switch-model.ts";

interface FakeSwitch {
  remoteAddress: string;
  rules: Rule[];
  connectedAt: number;
}

/**
 * A SwitchFabric for tests only: switches are rule tables in memory that apply batches the way
 * OpenFlow does (switch-model.ts). Records every apply call, can fail chosen batches, delay, and
 * measures how many applies overlap (to check per-cluster serialization).
 */
export class FakeFabric implements SwitchFabric {
  readonly switchesByDpid = new Map<bigint, FakeSwitch>();
  /** Every apply call, in order. */
  readonly calls: SwitchBatch[][] = [];
  delayMs = 0;
  /** Return an error to make that batch fail (nothing is applied on that switch). */
  failWhen: ((batch: SwitchBatch, call: number) => OpenFlowErrorInfo | undefined) | undefined;
  #inFlight = 0;
  maxInFlight = 0;

  connect(dpid: bigint, remoteAddress: string, rules: Rule[] = []): void {
    this.switchesByDpid.set(dpid, { remoteAddress, rules: [...rules], connectedAt: performance.now() });
  }

  disconnect(dpid: bigint): void {
    this.switchesByDpid.delete(dpid);
  }

  rulesOf(dpid: bigint): Rule[] {
    return this.switchesByDpid.get(dpid)?.rules ?? [];
  }

  async apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]> {
    const call = this.calls.length;
    this.calls.push([...batches]);
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    try {
      const started = performance.now();
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      return batches.map((batch): BatchOutcome => {
        const sw = this.switchesByDpid.get(batch.dpid);
        if (!sw) return { dpid: batch.dpid, status: "not-connected" };
        const error = this.failWhen?.(batch, call);
        if (error) return { dpid: batch.dpid, status: "failed", error };
        applyBatch(sw.rules, batch);
        return { dpid: batch.dpid, status: "confirmed", ms: performance.now() - started };
      });
    } finally {
      this.#inFlight--;
    }
  }

  isConnected(dpid: bigint): boolean {
    return this.switchesByDpid.has(dpid);
  }

  async switches(): Promise<SwitchStatus[]> {
    return [...this.switchesByDpid].map(([dpid, s]) => ({
      dpid,
      connected: true,
      remoteAddress: s.remoteAddress,
      ruleCount: s.rules.length,
      connectedForMs: Math.round(performance.now() - s.connectedAt),
    }));
  }
}
