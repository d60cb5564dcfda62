import { emptyBodyCodec, type MessageCodec } from "./codec.ts";

export interface FeaturesRequest {
  type: "FEATURES_REQUEST";
  xid: number;
}

/** ofp_capabilities bits. */
export const OFPC = {
  FLOW_STATS: 1 << 0,
  TABLE_STATS: 1 << 1,
  PORT_STATS: 1 << 2,
  GROUP_STATS: 1 << 3,
  IP_REASM: 1 << 5,
  QUEUE_STATS: 1 << 6,
  PORT_BLOCKED: 1 << 8,
} as const;

export interface FeaturesReply {
  type: "FEATURES_REPLY";
  xid: number;
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  auxiliaryId: number;
  capabilities: number;
  reserved: number;
}

export const featuresRequestCodec = emptyBodyCodec<FeaturesRequest>(5, (xid) => ({
  type: "FEATURES_REQUEST",
  xid,
}));

export const featuresReplyCodec: MessageCodec<FeaturesReply> = {
  code: 6,
  encode(w, m) {
    w.u64(m.datapathId, "datapathId")
      .u32(m.nBuffers, "nBuffers")
      .u8(m.nTables, "nTables")
      .u8(m.auxiliaryId, "auxiliaryId")
      .zeros(2)
      .u32(m.capabilities, "capabilities")
      .u32(m.reserved, "reserved");
  },
  decode(r, h) {
    const datapathId = r.u64("datapath_id");
    const nBuffers = r.u32("n_buffers");
    const nTables = r.u8("n_tables");
    const auxiliaryId = r.u8("auxiliary_id");
    r.skip(2);
    const capabilities = r.u32("capabilities");
    const reserved = r.u32("reserved");
    return {
      type: "FEATURES_REPLY",
      xid: h.xid,
      datapathId,
      nBuffers,
      nTables,
      auxiliaryId,
      capabilities,
      reserved,
    };
  },
};
