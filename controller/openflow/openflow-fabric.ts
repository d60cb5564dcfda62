import type { SwitchBatch } from "../compiler/transition-planner.ts";
import { SwitchRequestError } from "../openflow/errors.ts";
import type { OfLog } from "../openflow/log.ts";
import type { RebindProbes } from "../openflow/rebind-probes.ts";
import { OUR_FLOWS } from "../openflow/reconciler.ts";
import type { SessionRegistry } from "../openflow/registry.ts";
import type { SwitchSession } from "../openflow/session.ts";
import type { BatchOutcome, RebindIntent, RebindWatch, SwitchFabric, SwitchStatus } from "./switch-fabric.ts";

/**
 * After a batch, how long to wait for more before recounting a switch's rules: one request per
 * burst, well after a rebind's last phase (a rebind touches every switch of the cluster).
 */
const RECOUNT_DELAY_MS = 1_000;

/**
 * SwitchFabric over OpenFlow sessions. Each batch goes to one session (SessionRegistry.pick) as one
 * atomic bundle and a barrier; every batch of a call is written at once, without waiting for the
 * others, and the call resolves when each has been confirmed, refused or timed out. A failed
 * batch leaves its switch in an unknown state: the switch is reconciled (after the current
 * change releases the cluster's lock).
 */
export class OpenFlowFabric implements SwitchFabric {
  readonly #registry: SessionRegistry;
  readonly #probes: RebindProbes;
  readonly #reconcileLater: (s: SwitchSession) => void;
  readonly #log: OfLog;
  /** Switches whose rule count changed, with when they last did. */
  readonly #dirty = new Map<SwitchSession, number>();
  #recountTimer: ReturnType<typeof setInterval> | undefined;

  constructor(deps: {
    registry: SessionRegistry;
    probes: RebindProbes;
    reconcileLater: (s: SwitchSession) => void;
    log: OfLog;
  }) {
    this.#registry = deps.registry;
    this.#probes = deps.probes;
    this.#reconcileLater = deps.reconcileLater;
    this.#log = deps.log;
  }

  apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]> {
    return Promise.all(batches.map((b) => this.#applyOne(b)));
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
      }));
  }

  isConnected(dpid: bigint): boolean {
    return this.#registry.sessionsOf(dpid).some((s) => s.isReady);
  }

  beginRebind(intent: RebindIntent): RebindWatch | undefined {
    return this.#probes.begin(intent);
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
    const started = performance.now();
    // Leave out what the switch provably holds already (identical ADDs) or lacks (DELETEs of rules
    // it does not hold): a moved member's switch, reconciled on connect or back where it was, would
    // otherwise get its whole rule set again. Only when its rules are known (see held-rules.ts);
    // the batch's meaning is unchanged: afterwards the switch holds its adds and not its deletes.
    const held = session.heldRules;
    const send = held ? held.toSend(batch) : batch;
    const sent = { add: send.add.length, delete: send.delete.length };
    try {
      if (sent.add === 0 && sent.delete === 0 && session.isReady) {
        return { dpid: batch.dpid, status: "confirmed", ms: performance.now() - started, sent };
      }
      const ms = await session.applyBatch(send);
      if (held && session.heldRules === held) {
        // Confirmed: the switch now holds this too, and the set is all of our rules it holds.
        held.confirmed(send);
        session.ruleCount = held.size;
      } else if (batch.fresh && batch.delete.length === 0) {
        // A fresh batch is the member's whole rule set.
        session.ruleCount = batch.add.length;
      } else {
        // Unknown: count again once the burst is over (a thousand stats requests otherwise land
        // in the middle of the next rebind).
        this.#recountSoon(session);
      }
      return { dpid: batch.dpid, status: "confirmed", ms, sent };
    } catch (err) {
      // Whatever the switch did with it, what it holds is no longer known (a reconcile sets it again).
      session.heldRules = null;
      if (!(err instanceof SwitchRequestError)) throw err;
      this.#log.warn("batch failed", {
        switch: session.label,
        vmId: batch.vmId,
        kind: err.kind,
        error: err.message,
      });
      // Refused before sending (OVERLOAD) or gone (DISCONNECTED): the switch's table is as it was.
      if (err.kind === "OPENFLOW" || err.kind === "TIMEOUT") this.#reconcileLater(session);
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
      if (!session.isReady) continue;
      session.countFlows(OUR_FLOWS).then(
        (n) => {
          session.ruleCount = n;
        },
        () => {
          session.ruleCount = null;
        },
      );
    }
    if (this.#dirty.size === 0) {
      clearInterval(this.#recountTimer);
      this.#recountTimer = undefined;
    }
  }
}
