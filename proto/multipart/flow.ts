import { ProtoError } from "../errors.ts";
import { decodeInstructions, encodeInstructions, type Instruction } from "../instructions.ts";
import { decodeMatch, encodeMatch, type OxmField } from "../match.ts";
import { checkElementLength } from "../wire/elements.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import { type MultipartBodyCodec, OFPMP } from "./body.ts";

/** Which flows a FLOW or AGGREGATE request is about (ofp_flow_stats_request). */
export interface FlowStatsFilter {
  /** OFPTT.ALL for every table. */
  tableId: number;
  /** OFPP.ANY for no restriction. */
  outPort: number;
  /** OFPG.ANY for no restriction. */
  outGroup: number;
  cookie: bigint;
  /** 0n for no restriction. */
  cookieMask: bigint;
  match: OxmField[];
}

export interface FlowStatsRequestBody extends FlowStatsFilter {
  kind: "FLOW";
}

/** ofp_flow_stats: one flow entry as the switch holds it. */
export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  /** OFPFF bits. */
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: OxmField[];
  instructions: Instruction[];
}

export interface FlowStatsReplyBody {
  kind: "FLOW";
  stats: FlowStats[];
}

export function encodeFlowStatsFilter(w: Writer, f: FlowStatsFilter): void {
  w.u8(f.tableId, "tableId")
    .zeros(3)
    .u32(f.outPort, "outPort")
    .u32(f.outGroup, "outGroup")
    .zeros(4)
    .u64(f.cookie, "cookie")
    .u64(f.cookieMask, "cookieMask");
  encodeMatch(w, f.match);
}

export function decodeFlowStatsFilter(r: Reader): FlowStatsFilter {
  const tableId = r.u8("table_id");
  r.skip(3);
  const outPort = r.u32("out_port");
  const outGroup = r.u32("out_group");
  r.skip(4);
  const cookie = r.u64("cookie");
  const cookieMask = r.u64("cookie_mask");
  return { tableId, outPort, outGroup, cookie, cookieMask, match: decodeMatch(r) };
}

export const flowStatsRequestCodec: MultipartBodyCodec<FlowStatsRequestBody> = {
  mpType: OFPMP.FLOW,
  encode: encodeFlowStatsFilter,
  decode: (r) => ({ kind: "FLOW", ...decodeFlowStatsFilter(r) }),
};

/** The fixed part of ofp_flow_stats, before the match. */
const FLOW_STATS_HEADER_LEN = 48;

function encodeFlowStats(w: Writer, s: FlowStats): void {
  const start = w.offset;
  w.u16(0)
    .u8(s.tableId, "tableId")
    .zeros(1)
    .u32(s.durationSec, "durationSec")
    .u32(s.durationNsec, "durationNsec")
    .u16(s.priority, "priority")
    .u16(s.idleTimeout, "idleTimeout")
    .u16(s.hardTimeout, "hardTimeout")
    .u16(s.flags, "flags")
    .zeros(4)
    .u64(s.cookie, "cookie")
    .u64(s.packetCount, "packetCount")
    .u64(s.byteCount, "byteCount");
  encodeMatch(w, s.match);
  encodeInstructions(w, s.instructions);
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", `flow stats of ${len} bytes`, start);
  w.patchU16(start, len);
}

function decodeFlowStats(r: Reader): FlowStats {
  const at = r.offset;
  const len = r.peekU16(0, "flow stats length");
  checkElementLength(len, FLOW_STATS_HEADER_LEN + 8, 8, r.remaining, "flow stats", at);
  const e = r.sub(len, "flow stats");
  e.skip(2);
  const tableId = e.u8("table_id");
  e.skip(1);
  const durationSec = e.u32("duration_sec");
  const durationNsec = e.u32("duration_nsec");
  const priority = e.u16("priority");
  const idleTimeout = e.u16("idle_timeout");
  const hardTimeout = e.u16("hard_timeout");
  const flags = e.u16("flags");
  e.skip(4);
  const cookie = e.u64("cookie");
  const packetCount = e.u64("packet_count");
  const byteCount = e.u64("byte_count");
  const match = decodeMatch(e);
  const instructions = decodeInstructions(e);
  return {
    tableId,
    durationSec,
    durationNsec,
    priority,
    idleTimeout,
    hardTimeout,
    flags,
    cookie,
    packetCount,
    byteCount,
    match,
    instructions,
  };
}

export const flowStatsReplyCodec: MultipartBodyCodec<FlowStatsReplyBody> = {
  mpType: OFPMP.FLOW,
  encode(w, b) {
    for (const s of b.stats) encodeFlowStats(w, s);
  },
  decode(r) {
    const stats: FlowStats[] = [];
    while (!r.atEnd) stats.push(decodeFlowStats(r));
    return { kind: "FLOW", stats };
  },
};
