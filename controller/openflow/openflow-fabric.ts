import type { Ipv4 } from "../../contract/dataplane/index.ts";
import type { SwitchBatch } from "../compiler/transition-planner.ts";
import type {
  BatchOutcome,
  RebindIntent,
  RebindWatch,
  SwitchFabric,
  SwitchStatus,
} from "../fabric/switch-fabric.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import { SwitchRequestError } from "./errors.ts";
import type { OfLog } from "./log.ts";
import type { RebindProbes } from "./rebind-probes.ts";
import type { Reconciler } from "./reconciler.ts";
import type { SessionRegistry } from "./registry.ts";
import type { SwitchSession } from "./session.ts";
import type { SwitchAdmission } from "./switch-admission.ts";
import { WorkSlices } from "./work-slices.ts";

/**
 * After a batch, how long to wait for more before recounting a switch's rules: one request per
 * burst, well after a rebind's last phase (a rebind touches every switch of the cluster).
 */
const RECOUNT_DELAY_MS = 1_000;

/**
 * SwitchFabric over OpenFlow sessions. Each batch goes to one session (SessionRegistry.pick) as one
 * atomic bundle and a barrier (SwitchSession.applyBatch); every batch of a call is written at once,
 * without waiting for the others, and the call resolves when each has been confirmed, refused or
 * timed out. A failed batch leaves its switch in an unknown state: the switch is reconciled (after
 * the current change releases the cluster's lock).
 */
export class OpenFlowFabric implements SwitchFabric {
  readonly #registry: SessionRegistry;
  readonly #probes: RebindProbes;
  readonly #reconciler: Pick<Reconciler, "resync">;
  readonly #admission: Pick<SwitchAdmission, "refuseStale">;
  readonly #log: OfLog;
  /** Switches whose rule count is unknown after a batch, with when they last got one. */
  readonly #dirty = new Map<SwitchSession, number>();
  #recountTimer: ReturnType<typeof setInterval> | undefined;

  constructor(deps: {
    registry: SessionRegistry;
    probes: RebindProbes;
    reconciler: Pick<Reconciler, "resync">;
    admission: Pick<SwitchAdmission, "refuseStale">;
    log: OfLog;
  }) {
    this.#registry = deps.registry;
    this.#probes = deps.probes;
    this.#reconciler = deps.reconciler;
    this.#admission = deps.admission;
    this.#log = deps.log;
  }

  /**
   * Starts every batch, yielding to the event loop between slices of work (work-slices.ts; their
   * writes leave in slices too, see channel.ts): encoding and writing 5,000 switches' batches in
   * one go would hold echo replies, probes and other requests back.
   */
  async apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]> {
    // A session whose dpid changed hands since it was admitted is refused before it is picked.
    this.#admission.refuseStale(batches);
    const outcomes: Promise<BatchOutcome>[] = [];
    const slices = new WorkSlices();
    for (const b of batches) {
      const outcome = this.#applyOne(b);
      // Handled below by Promise.all; meanwhile a rejection must not count as unhandled.
      outcome.catch(() => {});
      outcomes.push(outcome);
      if (slices.due()) await slices.next();
    }
    return Promise.all(outcomes);
  }

  async switches(): Promise<SwitchStatus[]> {
    return this.#registry
      .all()
      .filter((s) => s.isReady)
      .map((s) => ({
        dpid: s.dpid!,
        connected: true,
        remoteAddress: s.remoteAddress,
        ruleCount: s.ruleCount,
        connectedForMs: Math.round(performance.now() - s.connectedAt),
      }));
  }

  isConnected(dpid: bigint): boolean {
    return this.#registry.sessionsOf(dpid).some((s) => s.isReady);
  }

  beginRebind(intent: RebindIntent): Promise<RebindWatch | undefined> {
    return this.#probes.begin(intent);
  }

  primeNextEndpoint(state: ClusterState, vmId: string, endpoint: Ipv4): Promise<void> {
    return this.#probes.primeAnnounced(state, vmId, endpoint);
  }

  /** Stops pending recounts (the server is closing). */
  close(): void {
    clearInterval(this.#recountTimer);
    this.#recountTimer = undefined;
    this.#dirty.clear();
  }

  async #applyOne(batch: SwitchBatch): Promise<BatchOutcome> {
    const session = this.#registry.pick(batch.dpid, batch.endpoint);
    if (!session) return { dpid: batch.dpid, status: "not-connected" };
    try {
      const { ms, sent, countKnown } = await session.applyBatch(batch);
      // Count again once the burst is over (a thousand stats requests otherwise land in the
      // middle of the next rebind).
      if (!countKnown) this.#recountSoon(session);
      return { dpid: batch.dpid, status: "confirmed", ms, sent };
    } catch (err) {
      if (!(err instanceof SwitchRequestError)) throw err;
      this.#log.warn("batch failed", {
        switch: session.label,
        vmId: batch.vmId,
        kind: err.kind,
        error: err.message,
      });
      // Refused before sending (OVERLOAD) or gone (DISCONNECTED): the switch's table is as it was.
      if (err.kind === "OPENFLOW" || err.kind === "TIMEOUT") this.#reconciler.resync(session);
      const failed = (error: (BatchOutcome & { status: "failed" })["error"]): BatchOutcome => ({
        dpid: batch.dpid,
        status: "failed",
        error,
      });
      if (err.kind === "OPENFLOW" && err.info) return failed(err.info);
      if (err.kind === "OVERLOAD")
        return failed({ type: "OVERLOAD", code: "XIDS_IN_FLIGHT", message: err.message });
      return failed({ type: err.kind === "TIMEOUT" ? "TIMEOUT" : "DISCONNECTED", message: err.message });
    }
  }

  #recountSoon(session: SwitchSession): void {
    // One timer for all switches: a rebind of a 1,000-member cluster touches every one of them.
    this.#dirty.set(session, performance.now());
    if (this.#recountTimer) return;
    this.#recountTimer = setInterval(() => this.#recount(), RECOUNT_DELAY_MS / 2);
    this.#recountTimer.unref();
  }

  #recount(): void {
    const now = performance.now();
    for (const [session, at] of this.#dirty) {
      if (now - at < RECOUNT_DELAY_MS) continue;
      this.#dirty.delete(session);
      if (session.isReady) void session.recount();
    }
    if (this.#dirty.size === 0) {
      clearInterval(this.#recountTimer);
      this.#recountTimer = undefined;
    }
  }
}
