import { connect, type Socket } from "node:net";
import {
  decodeMessage,
  EXPERIMENTER_ID,
  encodeMessage,
  MessageFramer,
  OFP_NO_BUFFER,
  OFPBF,
  OFPBFC,
  OFPBRC,
  OFPET,
  OFPP,
  OFPT,
  type OfpMessage,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
  type PacketOut,
} from "../../../proto/index.ts";
import {
  applyActions,
  type EmulatedNetwork,
  LookupCache,
  type Output,
  parseFrame,
  type TunnelEnd,
} from "./dataplane.ts";
import { FlowTable, type RawFlowMod, readFlowMod, statsOf } from "./flow-table.ts";

export interface EmulatedSwitchOptions {
  readonly dpid: bigint;
  readonly controller: { readonly host: string; readonly port: number };
  /** Its underlay address on `network` (where peers' tunnels reach it). */
  readonly endpoint?: string;
  readonly network?: EmulatedNetwork;
  /** Versions in our HELLO's bitmap (default [4]); the header carries the highest. */
  readonly helloVersions?: readonly number[];
  /** Answer ECHO_REQUESTs (default true); false plays a switch that hangs. */
  readonly answerEcho?: boolean;
  /** Refuses a FLOW_MOD with this error (for tests of error handling). */
  readonly refuse?: (m: RawFlowMod) => { errorType: number; code: number } | undefined;
  /**
   * False: a sink that confirms bundles of FLOW_MODs and counts them, but neither reads nor keeps
   * them (its table stays empty): 5,000 switches of 20,000 rules each would be 100 million entries,
   * beyond one process. For a bench whose subject is the controller. Default true.
   */
  readonly keepsTable?: boolean;
}

interface Bundle {
  readonly flags: number;
  readonly mods: RawFlowMod[];
  /** FLOW_MODs added (a sink's are counted, not kept). */
  added: number;
  /** A message was refused: the commit fails, nothing is applied. */
  failed: boolean;
}

/** ofp_bundle_ctrl_type requests we answer. */
const CTRL = { OPEN_REQUEST: 0, COMMIT_REQUEST: 4, DISCARD_REQUEST: 6 } as const;

/** FLOW stats per reply part: well below 64 KB for our rules (~150-250 bytes each). */
const STATS_PER_PART = 200;
const REPLY_MORE = 1;

/**
 * One emulated OpenFlow 1.3 switch over real TCP: HELLO, FEATURES (with its dpid), ECHO,
 * FLOW_MOD into a FlowTable, ONF bundles (open, add, atomic commit), BARRIER, FLOW and AGGREGATE
 * stats (in parts with the MORE flag), and PACKET_OUT through its table into an EmulatedNetwork
 * (PACKET_IN for what goes to the controller). Errors are ERROR messages, as a switch sends them.
 */
export class EmulatedSwitch implements TunnelEnd {
  readonly dpid: bigint;
  readonly table = new FlowTable();
  readonly counters = { flowMods: 0, bundles: 0, barriers: 0, packetOuts: 0, packetIns: 0, errors: 0 };
  /** Messages of types it does not handle (and answered BAD_TYPE). */
  readonly unhandled: number[] = [];
  readonly #options: EmulatedSwitchOptions;
  readonly #bundles = new Map<number, Bundle>();
  readonly #view = new LookupCache();
  readonly #neighbours = new Map<string, number>();
  #socket: Socket | undefined;
  #framer = new MessageFramer();
  /** Replies gathered while a chunk is handled. */
  #out: Uint8Array[] | undefined;
  #featuresSent!: () => void;
  #closed!: (reason: string) => void;
  /** Resolves once the controller has the dpid (FEATURES_REPLY sent). */
  readonly ready: Promise<void>;
  /** Resolves with the reason when the connection ends. */
  readonly ended: Promise<string>;

  constructor(options: EmulatedSwitchOptions) {
    this.dpid = options.dpid;
    this.#options = options;
    this.ready = new Promise((resolve) => {
      this.#featuresSent = resolve;
    });
    this.ended = new Promise((resolve) => {
      this.#closed = resolve;
    });
    if (options.endpoint && options.network) options.network.attach(options.endpoint, this);
  }

  /** Whether a connection is open (or being opened). */
  get connected(): boolean {
    return this.#socket !== undefined && !this.#socket.destroyed;
  }

  /** Connects and says HELLO; resolves once connected (not yet handshaken). */
  async connect(): Promise<void> {
    const { host, port } = this.#options.controller;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port }, () => resolve(s));
      s.once("error", reject);
    });
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#framer = new MessageFramer();
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => this.#closed("closed"));
    socket.on("error", () => {});
    const versions = [...(this.#options.helloVersions ?? [4])];
    this.#send({
      type: "HELLO",
      xid: 1,
      version: Math.max(...versions),
      elements: [{ kind: "VERSION_BITMAP", versions }],
    });
  }

  close(): void {
    this.#socket?.destroy();
    if (this.#options.endpoint && this.#options.network)
      this.#options.network.detach(this.#options.endpoint, this);
  }

  /** A tunnel packet from the network: in_port enc0 (1), with its tunnel metadata. */
  fromTunnel(tunSrc: string, tunId: bigint, frame: Uint8Array): void {
    const outputs = this.#view.lookup(
      this.table.version,
      () => this.table.entries(),
      { inPort: 1, tunId, tunSrc },
      parseFrame(frame),
    );
    this.#forward(outputs, frame, { inPort: 1, tunId, tunSrc });
  }

  #send(m: OfpMessage): void {
    this.#write(encodeMessage(m));
  }

  /** Replies to one chunk of requests leave in one write (see #receive). */
  #write(bytes: Uint8Array): void {
    if (this.#out) this.#out.push(bytes);
    else this.#socket?.write(bytes);
  }

  #error(request: Uint8Array, errorType: number, code: number): void {
    this.counters.errors++;
    const xid = new DataView(request.buffer, request.byteOffset).getUint32(4);
    this.#send({ type: "ERROR", xid, errorType, code, data: new Uint8Array(request.subarray(0, 64)) });
  }

  #bundleError(request: Uint8Array, code: number): void {
    this.counters.errors++;
    const xid = new DataView(request.buffer, request.byteOffset).getUint32(4);
    this.#send({
      type: "ERROR",
      xid,
      errorType: OFPET.EXPERIMENTER,
      expType: code,
      experimenter: EXPERIMENTER_ID.ONF,
      data: new Uint8Array(request.subarray(0, 64)),
    });
  }

  #receive(chunk: Buffer): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#out = [];
    try {
      const view = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      for (const bytes of this.#framer.push(view)) this.#handle(bytes);
    } catch {
      socket.destroy();
    } finally {
      const out = this.#out;
      this.#out = undefined;
      if (out.length === 1) socket.write(out[0]!);
      else if (out.length > 1) socket.write(Buffer.concat(out));
    }
  }

  #handle(bytes: Uint8Array): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const type = v.getUint8(1);
    const xid = v.getUint32(4);
    switch (type) {
      case OFPT.HELLO:
      case OFPT.ECHO_REPLY:
      case OFPT.ERROR:
        return;
      case OFPT.ECHO_REQUEST:
        if (this.#options.answerEcho !== false) {
          this.#send({ type: "ECHO_REPLY", xid, data: new Uint8Array(bytes.subarray(8)) });
        }
        return;
      case OFPT.FEATURES_REQUEST:
        this.#send({
          type: "FEATURES_REPLY",
          xid,
          datapathId: this.dpid,
          nBuffers: 0,
          nTables: 254,
          auxiliaryId: 0,
          capabilities: 0x4f,
          reserved: 0,
        });
        this.#featuresSent();
        return;
      case OFPT.FLOW_MOD:
        this.#flowMod(bytes, true);
        return;
      case OFPT.BARRIER_REQUEST: {
        this.counters.barriers++;
        const reply = new Uint8Array(8);
        reply.set(bytes.subarray(0, 8));
        reply[1] = OFPT.BARRIER_REPLY;
        this.#write(reply);
        return;
      }
      case OFPT.EXPERIMENTER:
        this.#experimenter(bytes, v);
        return;
      case OFPT.MULTIPART_REQUEST:
        this.#multipart(bytes);
        return;
      case OFPT.PACKET_OUT:
        this.#packetOut(bytes);
        return;
      default:
        this.unhandled.push(type);
        this.#error(bytes, OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE);
    }
  }

  /** Reads (and when `apply`, applies) a FLOW_MOD; undefined after answering an error. */
  #flowMod(bytes: Uint8Array, apply: boolean): RawFlowMod | undefined {
    let m: RawFlowMod;
    try {
      m = readFlowMod(bytes);
    } catch {
      this.#error(bytes, OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
      return undefined;
    }
    const refusal = this.#options.refuse?.(m);
    if (refusal) {
      this.#error(bytes, refusal.errorType, refusal.code);
      return undefined;
    }
    if (apply) {
      this.counters.flowMods++;
      this.table.apply(m);
    }
    return m;
  }

  #experimenter(bytes: Uint8Array, v: DataView): void {
    if (bytes.length < 24 || v.getUint32(8) !== EXPERIMENTER_ID.ONF) {
      this.#error(bytes, OFPET.BAD_REQUEST, OFPBRC.BAD_EXPERIMENTER);
      return;
    }
    const expType = v.getUint32(12);
    const bundleId = v.getUint32(16);
    if (expType === ONFT_BUNDLE_ADD_MESSAGE) {
      // An unknown bundle id opens a bundle with the message's flags (OpenFlow 1.4, 7.3.9; as OVS).
      let bundle = this.#bundles.get(bundleId);
      if (!bundle) {
        bundle = { flags: v.getUint16(22), mods: [], added: 0, failed: false };
        this.#bundles.set(bundleId, bundle);
      }
      const inner = bytes.subarray(24);
      const innerView = new DataView(inner.buffer, inner.byteOffset, inner.length);
      if (inner.length < 8 || innerView.getUint8(1) !== OFPT.FLOW_MOD) {
        this.#bundleError(bytes, OFPBFC.MSG_UNSUP);
        return;
      }
      if (innerView.getUint32(4) !== v.getUint32(4)) {
        this.#bundleError(bytes, OFPBFC.MSG_BAD_XID);
        return;
      }
      if (v.getUint16(22) !== bundle.flags) {
        this.#bundleError(bytes, OFPBFC.BAD_FLAGS);
        return;
      }
      bundle.added++;
      if (this.#options.keepsTable === false) return;
      const m = this.#flowMod(inner, false);
      if (m) bundle.mods.push(m);
      else bundle.failed = true;
      return;
    }
    if (expType !== ONFT_BUNDLE_CONTROL) {
      this.#error(bytes, OFPET.BAD_REQUEST, OFPBRC.BAD_EXP_TYPE);
      return;
    }
    // ofp_bundle_ctrl_msg at fixed offsets: type at 20, flags at 22 (properties, if any, ignored).
    const ctrlType = v.getUint16(20);
    const flags = v.getUint16(22);
    const reply = () => {
      // The reply is the request with the next control type (OPEN_REQUEST 0 -> OPEN_REPLY 1, ...).
      // A copy: the request is a view into the socket's chunk (Buffer#slice would not copy).
      const out = new Uint8Array(bytes.subarray(0, 24));
      const ov = new DataView(out.buffer);
      ov.setUint16(2, 24);
      ov.setUint16(20, ctrlType + 1);
      this.#write(out);
    };
    switch (ctrlType) {
      case CTRL.OPEN_REQUEST:
        if (this.#bundles.has(bundleId)) {
          this.#bundleError(bytes, OFPBFC.BUNDLE_EXIST);
          return;
        }
        this.#bundles.set(bundleId, { flags, mods: [], added: 0, failed: false });
        reply();
        return;
      case CTRL.COMMIT_REQUEST: {
        const bundle = this.#bundles.get(bundleId);
        this.#bundles.delete(bundleId);
        if (!bundle) {
          this.#bundleError(bytes, OFPBFC.BAD_ID);
          return;
        }
        if ((flags & OFPBF.ATOMIC) !== (bundle.flags & OFPBF.ATOMIC)) {
          this.#bundleError(bytes, OFPBFC.BAD_FLAGS);
          return;
        }
        if (bundle.failed) {
          this.#bundleError(bytes, OFPBFC.MSG_FAILED);
          return;
        }
        // Every message was checked when added: the commit applies all of them, in order.
        for (const mod of bundle.mods) this.table.apply(mod);
        this.counters.flowMods += bundle.added;
        this.counters.bundles++;
        reply();
        return;
      }
      case CTRL.DISCARD_REQUEST:
        this.#bundles.delete(bundleId);
        reply();
        return;
      default:
        this.#bundleError(bytes, OFPBFC.BAD_TYPE);
    }
  }

  #multipart(bytes: Uint8Array): void {
    const m = decodeMessage(bytes);
    if (m.type !== "MULTIPART_REQUEST") return;
    const body = m.body;
    if (body.kind === "AGGREGATE") {
      const selected = this.table.select(body);
      this.#send({
        type: "MULTIPART_REPLY",
        xid: m.xid,
        flags: 0,
        body: { kind: "AGGREGATE", packetCount: 0n, byteCount: 0n, flowCount: selected.length },
      });
      return;
    }
    if (body.kind !== "FLOW") {
      this.#error(bytes, OFPET.BAD_REQUEST, OFPBRC.BAD_MULTIPART);
      return;
    }
    const selected = this.table.select(body);
    for (let at = 0; at === 0 || at < selected.length; at += STATS_PER_PART) {
      const part = selected.slice(at, at + STATS_PER_PART).map(statsOf);
      const more = at + STATS_PER_PART < selected.length;
      this.#send({
        type: "MULTIPART_REPLY",
        xid: m.xid,
        flags: more ? REPLY_MORE : 0,
        body: { kind: "FLOW", stats: part },
      });
    }
  }

  #packetOut(bytes: Uint8Array): void {
    const m = decodeMessage(bytes) as PacketOut;
    this.counters.packetOuts++;
    const tableAction = m.actions.some((a) => a.kind === "OUTPUT" && a.port === OFPP.TABLE);
    const meta = { inPort: m.inPort };
    const outputs = tableAction
      ? this.#view.lookup(this.table.version, () => this.table.entries(), meta, parseFrame(m.data))
      : applyActions(m.actions, undefined);
    this.#forward(outputs, m.data, meta);
  }

  #forward(
    outputs: readonly Output[],
    frame: Uint8Array,
    meta: { inPort: number; tunId?: bigint; tunSrc?: string },
  ): void {
    const { network, endpoint } = this.#options;
    for (const o of outputs) {
      if (o.kind === "tunnel") {
        if (network && endpoint) network.send(this.#neighbours, endpoint, o.tunDst, o.tunId, frame);
      } else if (o.kind === "controller") {
        this.counters.packetIns++;
        const match: Extract<OfpMessage, { type: "PACKET_IN" }>["match"] = [
          { field: "IN_PORT", value: meta.inPort },
        ];
        if (meta.tunId !== undefined) match.push({ field: "TUNNEL_ID", value: meta.tunId });
        if (meta.tunSrc !== undefined) match.push({ field: "TUN_IPV4_SRC", value: meta.tunSrc });
        this.#send({
          type: "PACKET_IN",
          xid: 0,
          bufferId: OFP_NO_BUFFER,
          totalLen: frame.length,
          reason: "ACTION",
          tableId: o.entry?.tableId ?? 0,
          cookie: o.entry?.cookie ?? 0xffff_ffff_ffff_ffffn,
          match,
          data: new Uint8Array(frame.subarray(0, Math.min(frame.length, o.maxLen))),
        });
      }
    }
  }
}
