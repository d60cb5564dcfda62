import type { Reader } from "../wire/reader.ts";
import type { MultipartBodyCodec } from "./body.ts";
import { OFPMP } from "./body.ts";

export interface TableStatsRequestBody {
  kind: "TABLE";
}

/** ofp_table_stats */
export interface TableStats {
  tableId: number;
  /** flow entries in the table */
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}

export interface TableStatsReplyBody {
  kind: "TABLE";
  tables: TableStats[];
}

const TABLE_STATS_LEN = 24;

function decodeTableStats(r: Reader): TableStats {
  const tableId = r.u8("table_id");
  r.skip(3);
  return {
    tableId,
    activeCount: r.u32("active_count"),
    lookupCount: r.u64("lookup_count"),
    matchedCount: r.u64("matched_count"),
  };
}

export const tableStatsRequestCodec: MultipartBodyCodec<TableStatsRequestBody> = {
  mpType: OFPMP.TABLE,
  encode() {},
  decode: () => ({ kind: "TABLE" }),
};

export const tableStatsReplyCodec: MultipartBodyCodec<TableStatsReplyBody> = {
  mpType: OFPMP.TABLE,
  encode(w, b) {
    for (const t of b.tables) {
      w.u8(t.tableId, "tableId")
        .zeros(3)
        .u32(t.activeCount, "activeCount")
        .u64(t.lookupCount, "lookupCount")
        .u64(t.matchedCount, "matchedCount");
    }
  },
  decode(r) {
    const tables: TableStats[] = [];
    while (!r.atEnd) tables.push(decodeTableStats(r.sub(TABLE_STATS_LEN, "ofp_table_stats")));
    return { kind: "TABLE", tables };
  },
};
