import type { Socket } from "node:net";
import { formatDpid } from "../../contract/dataplane/index.ts";
import {
  type ErrorMsg,
  type FlowStats,
  type FlowStatsFilter,
  OFPBRC,
  OFPET,
  type OfpMessage,
  type PacketIn,
  type PacketOut,
  type ProtoError,
} from "../../proto/index.ts";
import type { Rule } from "../compiler/rule.ts";
import type { OpenFlowErrorInfo } from "../fabric/switch-fabric.ts";
import { batchFrames, batchSlices, RULES_PER_SLICE } from "./batch-frames.ts";
import { type CloseReason, OfChannel } from "./channel.ts";
import { errorInfo, SwitchRequestError } from "./errors.ts";
import { helloFailed, negotiate, ourHello } from "./handshake.ts";
import type { HeldRuleIndex } from "./held-rule-index.ts";
import { HeldRules, OUR_FLOWS, ruleOf } from "./held-rules.ts";
import { Keepalive } from "./keepalive.ts";
import type { OfLog } from "./log.ts";
import { BatchReply, FlowStatsReply, SingleReply } from "./replies.ts";
import { RequestTracker } from "./request-tracker.ts";

export interface SessionConfig {
  /** Echo keepalive: a silent switch is dropped within 3 intervals. */
  readonly echoIntervalMs: number;
  /** From accept to FEATURES_REPLY; a client that does not complete the handshake is dropped. */
  readonly handshakeTimeoutMs: number;
  /** Any request (batch, stats, barrier) not answered by then fails with TIMEOUT. */
  readonly requestTimeoutMs: number;
  /** Bytes queued to a switch that does not read, beyond which it is dropped. */
  readonly maxWriteBuffer: number;
  /** Xids in flight per session (a batch uses one per FLOW_MOD, plus four). */
  readonly maxXidsInFlight: number;
  /** Flow entries one FLOW stats reply may carry. */
  readonly maxFlowStats: number;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = {
  echoIntervalMs: 5_000,
  handshakeTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  maxWriteBuffer: 64 * 1024 * 1024,
  maxXidsInFlight: 100_000,
  maxFlowStats: 200_000,
};

/** What a session tells its owner. */
export interface SessionHooks {
  /**
   * The dpid is known, nothing sent to the switch yet: a refusal (its ERROR is sent, then the
   * connection closed; the session never becomes ready), or undefined to admit it.
   */
  admit(s: SwitchSession): { readonly reason: string; readonly error: ErrorMsg } | undefined;
  /** The handshake is done and the switch admitted. */
  ready(s: SwitchSession): void;
  /** Called once, whatever ended the session; `wasReady`: it got as far as `ready`. */
  closed(s: SwitchSession, reason: CloseReason, wasReady: boolean): void;
  packetIn(s: SwitchSession, m: PacketIn): void;
  /** Every ERROR the switch sends (for icsdn_openflow_errors_total). */
  openflowError(s: SwitchSession, info: OpenFlowErrorInfo): void;
  /** FLOW_MODs written to the switch (for icsdn_flow_mods_total). */
  flowModsSent(n: number): void;
}

/** What became of a batch a session applied. */
export interface AppliedBatch {
  /** From sending to the barrier reply (or the time it took to find nothing need be sent). */
  readonly ms: number;
  /** FLOW_MODs actually sent. */
  readonly sent: { readonly add: number; readonly delete: number };
  /** False when the rule count is unknown after it: the owner should `recount` once a burst is over. */
  readonly countKnown: boolean;
}

type State = "hello" | "features" | "ready" | "closed";

let sessionIds = 0;

/** Bytes of a large batch queued for a switch before its next slice waits for it to read. */
const SLICE_BACKLOG = 512 * 1024;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

const isLarge = (batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] }) =>
  batch.add.length + batch.delete.length > RULES_PER_SLICE;

/** A large `batch` without what `held` says the switch already has or lacks, a slice at a time. */
async function unheld(
  held: HeldRules,
  batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] },
): Promise<{ add: Rule[]; delete: Rule[] }> {
  const out: { add: Rule[]; delete: Rule[] } = { add: [], delete: [] };
  for (const kind of ["add", "delete"] as const) {
    for (let i = 0; i < batch[kind].length; i += RULES_PER_SLICE) {
      const slice = batch[kind].slice(i, i + RULES_PER_SLICE);
      out[kind].push(
        ...held.toSend(kind === "add" ? { add: slice, delete: [] } : { add: [], delete: slice })[kind],
      );
      await yieldToLoop();
    }
  }
  return out;
}

/** "::ffff:192.0.2.1" (an IPv4 peer on a dual-stack socket) -> "192.0.2.1": endpoints are IPv4. */
export function plainAddress(address: string | undefined): string {
  if (!address) return "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/**
 * One switch connection: HELLO and version negotiation, FEATURES (the dpid names the switch),
 * echo keepalive, and requests correlated by xid with timeouts. Every ERROR is reported to the
 * owner (metrics) and, when its xid is a request's, fails that request. A peer that sends what is
 * not OpenFlow 1.3 is dropped with a logged error; nothing it sends can throw past this class.
 */
export class SwitchSession {
  readonly id = ++sessionIds;
  readonly transport: "tcp" | "tls";
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** performance.now() at accept: the newest session of a dpid wins when addresses do not tell. */
  readonly connectedAt = performance.now();
  readonly #channel: OfChannel;
  readonly #config: SessionConfig;
  readonly #hooks: SessionHooks;
  readonly #log: OfLog;
  readonly #heldIndex: HeldRuleIndex;
  readonly #tracker: RequestTracker;
  readonly #keepalive: Keepalive;
  readonly #handshakeTimer: ReturnType<typeof setTimeout>;
  #state: State = "hello";
  #dpid: bigint | undefined;
  #nextXid = 0;
  #nextBundle = 0;
  /** Rules of ours the switch holds, as of the last reconcile, batch or count; null when unknown. */
  #ruleCount: number | null = null;
  /**
   * Rules of ours the switch is known to hold, so batches can leave out no-ops; null when unknown.
   * Set by a reconcile (flow dump + what it sent), kept up to date by confirmed batches, dropped
   * on any failure or stray ERROR. See held-rules.ts for why this is sound.
   */
  #held: HeldRules | null = null;
  #refused = false;

  constructor(
    socket: Socket,
    transport: "tcp" | "tls",
    config: SessionConfig,
    hooks: SessionHooks,
    log: OfLog,
    heldIndex: HeldRuleIndex,
  ) {
    this.transport = transport;
    this.#heldIndex = heldIndex;
    this.remoteAddress = plainAddress(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    this.#config = config;
    this.#hooks = hooks;
    this.#log = log;
    this.#tracker = new RequestTracker({ maxXids: config.maxXidsInFlight });
    this.#keepalive = new Keepalive({
      intervalMs: config.echoIntervalMs,
      sendEcho: () => this.#channel.send({ type: "ECHO_REQUEST", xid: this.#xid(), data: new Uint8Array(0) }),
      onDead: (silent) =>
        this.close(
          `no message for ${Math.round(silent)} ms (echo interval ${config.echoIntervalMs} ms)`,
          true,
        ),
    });
    this.#handshakeTimer = setTimeout(
      () => this.close(`no OpenFlow handshake within ${config.handshakeTimeoutMs} ms`, true),
      config.handshakeTimeoutMs,
    );
    this.#handshakeTimer.unref();
    this.#channel = new OfChannel(
      socket,
      { maxWriteBuffer: config.maxWriteBuffer },
      {
        message: (m) => this.#receive(m),
        undecodable: (err, bytes) => this.#undecodable(err, bytes),
        closed: (reason) => this.#closed(reason),
      },
    );
    this.#channel.send(ourHello(this.#xid()));
  }

  get dpid(): bigint | undefined {
    return this.#dpid;
  }

  get isReady(): boolean {
    return this.#state === "ready";
  }

  get isClosed(): boolean {
    return this.#state === "closed";
  }

  /** For logs: "192.0.2.10:53412 dpid 0000002ac6120001". */
  get label(): string {
    const dpid = this.#dpid === undefined ? "" : ` dpid ${formatDpid(this.#dpid)}`;
    return `${this.remoteAddress}:${this.remotePort}${dpid}`;
  }

  /** Rules of ours the switch holds, as of the last reconcile, batch or recount; null when unknown. */
  get ruleCount(): number | null {
    return this.#ruleCount;
  }

  /** How many rules of ours the switch is known to hold (see held-rules.ts); null when unknown. */
  get knownRuleCount(): number | null {
    return this.#held?.size ?? null;
  }

  /** Stops trusting what we think the switch holds: batches go whole until the next reconcile. */
  forgetHeldRules(): void {
    this.#held?.release();
    this.#held = null;
  }

  /**
   * Sends `batch` as one atomic bundle then a barrier, leaving out what the switch provably holds
   * already (identical ADDs) or lacks (DELETEs of rules it does not hold) when its rules are known:
   * a moved member's switch, reconciled on connect, would otherwise get its whole rule set again.
   * The batch's meaning is unchanged: afterwards the switch holds its adds and not its deletes.
   * Nothing left to send: confirmed at once. A `fresh` batch with no deletes is the member's whole
   * rule set. Rejects with SwitchRequestError (and forgets what the switch holds).
   */
  async applyBatch(batch: {
    readonly add: readonly Rule[];
    readonly delete: readonly Rule[];
    readonly fresh?: boolean;
  }): Promise<AppliedBatch> {
    const started = performance.now();
    const held = this.#held;
    try {
      this.#requireReady("batch");
      // A small batch is filtered and sent in this turn (the fabric's slices count on it: a plan's
      // thousand small batches must not all wait for one later turn and leave in one burst).
      let send = !held ? batch : isLarge(batch) ? await unheld(held, batch) : held.toSend(batch);
      // Forgotten while a large batch was being filtered: what the switch holds is unknown now.
      if (held && this.#held !== held) send = batch;
      const sent = { add: send.add.length, delete: send.delete.length };
      if (sent.add === 0 && sent.delete === 0)
        return { ms: performance.now() - started, sent, countKnown: true };
      const { started: sentAt, replied } = this.#writeBatch(send);
      await replied;
      const ms = performance.now() - sentAt;
      if (held && this.#held === held) {
        // Confirmed: the switch now holds this too, and the set is all of our rules it holds.
        held.confirmed(send);
        this.#ruleCount = held.size;
      } else if (batch.fresh && batch.delete.length === 0) {
        this.#ruleCount = batch.add.length;
      } else {
        return { ms, sent, countKnown: false };
      }
      return { ms, sent, countKnown: true };
    } catch (err) {
      // Whatever the switch did with it, what it holds is no longer known (a reconcile sets it again).
      this.forgetHeldRules();
      throw err;
    }
  }

  /**
   * Reconcile, first half: the rules of ours the switch holds, read from it (flow dump). What it is
   * known to hold is forgotten until `holdsExactly`, so a failure in between leaves it unknown.
   */
  async dumpOurRules(): Promise<Rule[]> {
    this.forgetHeldRules();
    return (await this.flowStats(OUR_FLOWS)).map(ruleOf);
  }

  /** Reconcile, second half: the switch holds exactly `rules` of ours (the dump plus the confirmed diff). */
  holdsExactly(rules: readonly Rule[]): void {
    this.forgetHeldRules();
    this.#held = new HeldRules(this.#heldIndex, rules);
    this.#ruleCount = this.#held.size;
  }

  /** Counts the switch's rules of ours again (one AGGREGATE request); unknown if that fails. */
  async recount(): Promise<void> {
    try {
      this.#ruleCount = await this.countFlows(OUR_FLOWS);
    } catch {
      this.#ruleCount = null;
    }
  }

  /** Writes one bundle and a barrier, all of `batch`: when it left, and the barrier reply to come. */
  #writeBatch(batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] }): {
    readonly started: number;
    readonly replied: Promise<unknown>;
  } {
    this.#nextBundle = (this.#nextBundle % 0xffff_ffff) + 1;
    const flowMods = batch.add.length + batch.delete.length;
    if (isLarge(batch)) return this.#writeSliced(batch, flowMods);
    const first = this.#xids(flowMods + 2);
    let xid = first;
    const frames = batchFrames(batch, this.#nextBundle, () => xid++);
    const reply = new BatchReply(frames.commitXid, frames.barrierXid);
    this.#tracker.add(
      reply,
      first,
      flowMods + 2,
      this.#config.requestTimeoutMs,
      `batch of ${frames.flowMods} FLOW_MODs`,
    );
    const started = performance.now();
    this.#channel.sendBytes(frames.bytes);
    this.#hooks.flowModsSent(frames.flowMods);
    return { started, replied: reply.promise };
  }

  /**
   * A large batch slice by slice (batchSlices), yielding to the event loop between slices, so
   * that echo replies, probes and other switches' batches are not held up while it is encoded,
   * and waiting while more than SLICE_BACKLOG bytes are queued for the switch.
   * Its xids are taken first, so the bundle's are known before its first byte is sent.
   */
  #writeSliced(
    batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] },
    flowMods: number,
  ): { readonly started: number; readonly replied: Promise<unknown> } {
    const bundle = this.#nextBundle;
    const first = this.#xids(flowMods + 2);
    const reply = new BatchReply(first + flowMods, first + flowMods + 1);
    this.#tracker.add(
      reply,
      first,
      flowMods + 2,
      this.#config.requestTimeoutMs,
      `batch of ${flowMods} FLOW_MODs`,
    );
    // Awaited below; a session closed between slices must not leave it rejected unhandled meanwhile.
    reply.promise.catch(() => {});
    const started = performance.now();
    const replied = (async () => {
      for (const bytes of batchSlices(batch, bundle, first)) {
        this.#channel.sendBytes(bytes);
        await yieldToLoop();
        await this.#channel.queuedBelow(SLICE_BACKLOG);
      }
      this.#hooks.flowModsSent(flowMods);
      await reply.promise;
    })();
    return { started, replied };
  }

  /** The switch's flow entries matching `filter` (every part of a multipart reply). */
  async flowStats(filter: FlowStatsFilter): Promise<FlowStats[]> {
    this.#requireReady("flow stats");
    const xid = this.#xid();
    const reply = new FlowStatsReply(this.#config.maxFlowStats);
    this.#tracker.add(reply, xid, 1, this.#config.requestTimeoutMs, "flow stats");
    this.#channel.send({ type: "MULTIPART_REQUEST", xid, flags: 0, body: { kind: "FLOW", ...filter } });
    return reply.promise;
  }

  /** How many flow entries match `filter` (one AGGREGATE stats request). */
  async countFlows(filter: FlowStatsFilter): Promise<number> {
    this.#requireReady("aggregate stats");
    const xid = this.#xid();
    const reply = new SingleReply("MULTIPART_REPLY", "aggregate stats");
    this.#tracker.add(reply, xid, 1, this.#config.requestTimeoutMs, "aggregate stats");
    this.#channel.send({ type: "MULTIPART_REQUEST", xid, flags: 0, body: { kind: "AGGREGATE", ...filter } });
    const m = await reply.promise;
    if (m.body.kind !== "AGGREGATE") {
      throw new SwitchRequestError("OPENFLOW", `aggregate stats: the switch answered ${m.body.kind}`);
    }
    return m.body.flowCount;
  }

  async barrier(): Promise<void> {
    this.#requireReady("barrier");
    const xid = this.#xid();
    const reply = new SingleReply("BARRIER_REPLY", "barrier");
    this.#tracker.add(reply, xid, 1, this.#config.requestTimeoutMs, "barrier");
    this.#channel.send({ type: "BARRIER_REQUEST", xid });
    await reply.promise;
  }

  /** Fire and forget (probes, priming); an error it causes is logged and counted, naming PACKET_OUT. */
  packetOut(m: Omit<PacketOut, "type" | "xid">): void {
    if (this.#state !== "ready") return;
    this.#channel.send({ type: "PACKET_OUT", xid: this.#xid(), ...m });
  }

  /**
   * A message encoded once and sent to many switches as is (priming probes: 999 identical
   * PACKET_OUTs in a 1,000-member rebind). Its xid is the caller's; errors it causes are logged.
   */
  sendEncoded(bytes: Uint8Array): void {
    if (this.#state === "ready") this.#channel.sendBytes(bytes);
  }

  /** Sends `error` (an ERROR telling the switch why) and closes once it is flushed; the owner logs why. */
  refuse(reason: string, error: ErrorMsg): void {
    this.#refused = true;
    this.#channel.finish(reason, error);
  }

  close(reason: string, error = false): void {
    this.#channel.close(reason, error);
  }

  #xid(): number {
    return this.#xids(1);
  }

  /**
   * The first of `count` consecutive xids (the tracker keeps a request's xids as one range): after
   * 0xffff_ffff they start again at 1, never wrapping inside a run.
   */
  #xids(count: number): number {
    if (this.#nextXid > 0xffff_ffff - count) this.#nextXid = 0;
    const first = this.#nextXid + 1;
    this.#nextXid += count;
    return first;
  }

  #requireReady(what: string): void {
    if (this.#state !== "ready") {
      throw new SwitchRequestError("DISCONNECTED", `${what}: the session of ${this.label} is ${this.#state}`);
    }
  }

  #receive(m: OfpMessage): void {
    this.#keepalive.heard();
    if (this.#state === "hello") {
      this.#hello(m);
      return;
    }
    switch (m.type) {
      case "ECHO_REQUEST":
        this.#channel.send({ type: "ECHO_REPLY", xid: m.xid, data: m.data });
        return;
      case "ERROR":
        this.#error(m);
        return;
      case "PACKET_IN":
        this.#hooks.packetIn(this, m);
        return;
      case "ECHO_REPLY":
      case "PORT_STATUS":
      case "FLOW_REMOVED":
      case "HELLO":
        return;
      default:
        if (!this.#tracker.route(m))
          this.#log.debug("reply to no request (late?)", { switch: this.label, type: m.type });
    }
  }

  #hello(m: OfpMessage): void {
    if (m.type !== "HELLO") {
      this.close(`expected HELLO first, got ${m.type}`, true);
      return;
    }
    const result = negotiate(m);
    if (!result.ok) {
      // Per connection at debug only: the owner logs failed handshakes in aggregate.
      this.#log.debug("switch refused: no common OpenFlow version", {
        switch: this.label,
        reason: result.reason,
      });
      this.#channel.finish(result.reason, helloFailed(m, result.reason));
      return;
    }
    this.#state = "features";
    const xid = this.#xid();
    const reply = new SingleReply("FEATURES_REPLY", "features");
    this.#tracker.add(reply, xid, 1, this.#config.handshakeTimeoutMs, "features");
    this.#channel.send({ type: "FEATURES_REQUEST", xid });
    reply.promise.then(
      (features) => {
        if (this.#state !== "features") return;
        clearTimeout(this.#handshakeTimer);
        this.#dpid = features.datapathId;
        const refusal = this.#hooks.admit(this);
        if (refusal) {
          this.#channel.finish(refusal.reason, refusal.error);
          return;
        }
        this.#state = "ready";
        this.#keepalive.start();
        this.#hooks.ready(this);
      },
      (err: Error) => this.close(`no features: ${err.message}`, true),
    );
  }

  #error(m: ErrorMsg): void {
    const info = errorInfo(m);
    this.#hooks.openflowError(this, info);
    if (!this.#tracker.route(m)) {
      // An error we cannot attribute: whatever it was about, stop trusting what we think the
      // switch holds (batches are sent whole until the next reconcile sets it again).
      this.forgetHeldRules();
      this.#log.warn("switch error for no request in flight", { switch: this.label, error: info.message });
    }
  }

  #undecodable(err: ProtoError, bytes: Uint8Array): void {
    // An unknown message type from a switch in session: say so and carry on (spec: BAD_REQUEST/BAD_TYPE).
    if (this.#state === "ready" && err.code === "BAD_TYPE" && bytes.length >= 8) {
      this.#log.warn("unknown message from switch; answered BAD_TYPE", {
        switch: this.label,
        error: err.message,
      });
      this.#channel.send({
        type: "ERROR",
        xid: new DataView(bytes.buffer, bytes.byteOffset).getUint32(4),
        errorType: OFPET.BAD_REQUEST,
        code: OFPBRC.BAD_TYPE,
        data: new Uint8Array(bytes.subarray(0, 64)),
      });
      return;
    }
    this.close(`undecodable message: ${err.message}`, true);
  }

  #closed(reason: CloseReason): void {
    const wasReady = this.#state === "ready";
    this.#state = "closed";
    this.forgetHeldRules();
    clearTimeout(this.#handshakeTimer);
    this.#keepalive.stop();
    this.#tracker.abortAll(new SwitchRequestError("DISCONNECTED", `session closed: ${reason.reason}`));
    const fields = { switch: this.label, transport: this.transport, reason: reason.reason };
    // Before the handshake, anyone who reaches the port can cause this: one line per connection
    // only at debug (the owner logs them in aggregate, see handshake-failures.ts).
    if (!wasReady) this.#log.debug("connection closed before the handshake", fields);
    else if (reason.error && !this.#refused) this.#log.error("switch connection dropped", fields);
    else this.#log.info("switch disconnected", fields);
    this.#hooks.closed(this, reason, wasReady);
  }
}
