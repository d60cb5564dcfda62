import {
  decodeMessage,
  encodeMessage,
  type FlowStats,
  OFP_NO_BUFFER,
  type OfpMessage,
  type PacketIn,
} from "../proto/index.ts";
import { egressFlowMod } from "../test/proto/helpers.ts";
import { type Bench, type Figure, median, opsPerSecond, opsPerSecondSideBySide } from "./figures.ts";

/** A probe packet caught by the controller: a 64-byte UDP frame with its tunnel metadata. */
const packetIn: PacketIn = {
  type: "PACKET_IN",
  xid: 0,
  bufferId: OFP_NO_BUFFER,
  totalLen: 64,
  reason: "ACTION",
  tableId: 0,
  cookie: 0x1c00000000000003n,
  match: [
    { field: "IN_PORT", value: 1 },
    { field: "TUNNEL_ID", value: 42n },
    { field: "TUN_IPV4_SRC", value: "203.0.113.20" },
  ],
  data: new Uint8Array(64).fill(0xab),
};

/** 1,000 ingress rules as a switch reports them, split into as many replies as 64 KiB allows. */
function flowStatsReply(entries: number): OfpMessage[] {
  const stats: FlowStats[] = Array.from({ length: entries }, (_, i) => ({
    tableId: 0,
    durationSec: 100 + i,
    durationNsec: 5000,
    priority: 200,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    cookie: 0x1c00000000000002n,
    packetCount: BigInt(i * 10),
    byteCount: BigInt(i * 1500),
    match: [
      { field: "IN_PORT", value: 1 },
      { field: "TUNNEL_ID", value: 42n },
      { field: "TUN_IPV4_SRC", value: `203.0.${(i >> 8) & 0xff}.${i & 0xff}` },
    ],
    instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: 2, maxLen: 0 }] }],
  }));
  const perPart = 500;
  const parts: OfpMessage[] = [];
  for (let at = 0; at < stats.length; at += perPart) {
    parts.push({
      type: "MULTIPART_REPLY",
      xid: 9,
      flags: at + perPart < stats.length ? 1 : 0,
      body: { kind: "FLOW", stats: stats.slice(at, at + perPart) },
    });
  }
  return parts;
}

/** The FLOW_MOD a rebind sends: IPv4 to a peer's vint0 -> set tun_dst and tun_id, output enc0. */
const rebindFlowMod = egressFlowMod();

const bench: Bench = {
  title: "proto: OpenFlow 1.3 encode/decode, one core",
  async run(): Promise<Figure[]> {
    const flowModBytes = encodeMessage(rebindFlowMod);
    const packetInBytes = encodeMessage(packetIn);
    const reply = flowStatsReply(1000);
    const replyBytes = reply.map(encodeMessage);
    let sink = 0;
    // Encode and decode of the rebind's FLOW_MOD side by side: the goal is their ratio (>= 1).
    const [encodes, decodes] = opsPerSecondSideBySide(
      [() => (sink += encodeMessage(rebindFlowMod).length), () => (sink += decodeMessage(flowModBytes).xid)],
      100_000,
    ) as [number[], number[]];
    const figures: Figure[] = [
      { name: "proto.flow_mod.encode_per_s", value: median(encodes), unit: "messages/s" },
      { name: "proto.flow_mod.decode_per_s", value: median(decodes), unit: "messages/s" },
      {
        name: "proto.flow_mod.encode_vs_decode",
        value: median(encodes.map((e, i) => e / decodes[i]!)),
        unit: "x (encode rate / decode rate, per interleaved round; goal >= 1)",
      },
      {
        name: "proto.packet_in.encode_per_s",
        value: opsPerSecond(() => (sink += encodeMessage(packetIn).length), 200_000),
        unit: "messages/s",
      },
      {
        name: "proto.packet_in.decode_per_s",
        value: opsPerSecond(() => (sink += decodeMessage(packetInBytes).xid), 200_000),
        unit: "messages/s",
      },
      {
        name: "proto.flow_stats_1000.encode_per_s",
        value: opsPerSecond(() => {
          for (const m of reply) sink += encodeMessage(m).length;
        }, 200),
        unit: "replies/s (1,000 entries each)",
      },
      {
        name: "proto.flow_stats_1000.decode_per_s",
        value: opsPerSecond(() => {
          for (const b of replyBytes) sink += decodeMessage(b).xid;
        }, 200),
        unit: "replies/s (1,000 entries each)",
      },
    ];
    if (sink === 0) throw new Error("nothing was encoded");
    return figures;
  },
};
export default bench;
