import { ProtoError } from "../errors.ts";
import { checkElementLength } from "../wire/elements.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import { type MultipartBodyCodec, OFPMP } from "./body.ts";

/** OFPMP_GROUP request: one group, or OFPG.ALL. */
export interface GroupStatsRequestBody {
  kind: "GROUP";
  groupId: number;
}

/** ofp_bucket_counter */
export interface BucketCounter {
  packetCount: bigint;
  byteCount: bigint;
}

/** ofp_group_stats */
export interface GroupStats {
  groupId: number;
  /** Flows and groups that forward to this group. */
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  /** One per bucket, in bucket order. */
  buckets: BucketCounter[];
}

export interface GroupStatsReplyBody {
  kind: "GROUP";
  stats: GroupStats[];
}

export const groupStatsRequestCodec: MultipartBodyCodec<GroupStatsRequestBody> = {
  mpType: OFPMP.GROUP,
  encode: (w, b) => void w.u32(b.groupId, "groupId").zeros(4),
  decode(r) {
    const groupId = r.u32("group_id");
    r.skip(4);
    return { kind: "GROUP", groupId };
  },
};

/** The fixed part of ofp_group_stats, before the bucket counters. */
const GROUP_STATS_HEADER_LEN = 40;
const BUCKET_COUNTER_LEN = 16;

function encodeGroupStats(w: Writer, s: GroupStats): void {
  const start = w.offset;
  w.u16(0)
    .zeros(2)
    .u32(s.groupId, "groupId")
    .u32(s.refCount, "refCount")
    .zeros(4)
    .u64(s.packetCount, "packetCount")
    .u64(s.byteCount, "byteCount")
    .u32(s.durationSec, "durationSec")
    .u32(s.durationNsec, "durationNsec");
  for (const c of s.buckets) w.u64(c.packetCount, "bucket packetCount").u64(c.byteCount, "bucket byteCount");
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", `group stats of ${len} bytes`, start);
  w.patchU16(start, len);
}

function decodeGroupStats(r: Reader): GroupStats {
  const at = r.offset;
  const len = r.peekU16(0, "group stats length");
  checkElementLength(len, GROUP_STATS_HEADER_LEN, 8, r.remaining, "group stats", at);
  if ((len - GROUP_STATS_HEADER_LEN) % BUCKET_COUNTER_LEN !== 0) {
    throw new ProtoError("BAD_LENGTH", `group stats length ${len} is not 40 + 16 * buckets`, at);
  }
  const e = r.sub(len, "group stats");
  e.skip(4);
  const groupId = e.u32("group_id");
  const refCount = e.u32("ref_count");
  e.skip(4);
  const packetCount = e.u64("packet_count");
  const byteCount = e.u64("byte_count");
  const durationSec = e.u32("duration_sec");
  const durationNsec = e.u32("duration_nsec");
  const buckets: BucketCounter[] = [];
  while (!e.atEnd) {
    const bucketPackets = e.u64("bucket packet_count");
    buckets.push({ packetCount: bucketPackets, byteCount: e.u64("bucket byte_count") });
  }
  return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, buckets };
}

export const groupStatsReplyCodec: MultipartBodyCodec<GroupStatsReplyBody> = {
  mpType: OFPMP.GROUP,
  encode(w, b) {
    for (const s of b.stats) encodeGroupStats(w, s);
  },
  decode(r) {
    const stats: GroupStats[] = [];
    while (!r.atEnd) stats.push(decodeGroupStats(r));
    return { kind: "GROUP", stats };
  },
};
