import type { MessageCodec } from "./codec.ts";

/** ofp_table_config: in 1.3 only the deprecated 1.1 miss bits remain. */
export const OFPTC_DEPRECATED_MASK = 3;

/** OFPT_TABLE_MOD */
export interface TableMod {
  type: "TABLE_MOD";
  xid: number;
  /** a table, or OFPTT.ALL */
  tableId: number;
  config: number;
}

export const tableModCodec: MessageCodec<TableMod> = {
  code: 17,
  encode(w, m) {
    w.u8(m.tableId, "tableId").zeros(3).u32(m.config, "config");
  },
  decode(r, h) {
    const tableId = r.u8("table_id");
    r.skip(3);
    return { type: "TABLE_MOD", xid: h.xid, tableId, config: r.u32("config") };
  },
};
