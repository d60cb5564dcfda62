import { type MultipartBodyCodec, OFPMP } from "./body.ts";
import { decodeFlowStatsFilter, encodeFlowStatsFilter, type FlowStatsFilter } from "./flow.ts";

/** OFPMP_AGGREGATE request: the same filter as a FLOW request. */
export interface AggregateStatsRequestBody extends FlowStatsFilter {
  kind: "AGGREGATE";
}

/** ofp_aggregate_stats_reply: totals over the flows the filter selects. */
export interface AggregateStatsReplyBody {
  kind: "AGGREGATE";
  packetCount: bigint;
  byteCount: bigint;
  flowCount: number;
}

export const aggregateStatsRequestCodec: MultipartBodyCodec<AggregateStatsRequestBody> = {
  mpType: OFPMP.AGGREGATE,
  encode: encodeFlowStatsFilter,
  decode: (r) => ({ kind: "AGGREGATE", ...decodeFlowStatsFilter(r) }),
};

export const aggregateStatsReplyCodec: MultipartBodyCodec<AggregateStatsReplyBody> = {
  mpType: OFPMP.AGGREGATE,
  encode(w, b) {
    w.u64(b.packetCount, "packetCount").u64(b.byteCount, "byteCount").u32(b.flowCount, "flowCount").zeros(4);
  },
  decode(r) {
    const packetCount = r.u64("packet_count");
    const byteCount = r.u64("byte_count");
    const flowCount = r.u32("flow_count");
    r.skip(4);
    return { kind: "AGGREGATE", packetCount, byteCount, flowCount };
  },
};
