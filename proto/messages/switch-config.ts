import { emptyBodyCodec, type MessageCodec } from "./codec.ts";

/** ofp_config_flags: what to do with IP fragments. */
export const OFPC_FRAG = { NORMAL: 0, DROP: 1, REASM: 2, MASK: 3 } as const;

export interface GetConfigRequest {
  type: "GET_CONFIG_REQUEST";
  xid: number;
}
/** ofp_switch_config, as read back. */
export interface GetConfigReply {
  type: "GET_CONFIG_REPLY";
  xid: number;
  /** OFPC_FRAG_* */
  flags: number;
  /** bytes of a packet sent to the controller when an output action gives no max_len; 0xffff: all */
  missSendLen: number;
}
export interface SetConfig {
  type: "SET_CONFIG";
  xid: number;
  flags: number;
  missSendLen: number;
}

export const getConfigRequestCodec = emptyBodyCodec<GetConfigRequest>(7, (xid) => ({
  type: "GET_CONFIG_REQUEST",
  xid,
}));

export const getConfigReplyCodec: MessageCodec<GetConfigReply> = {
  code: 8,
  encode: (w, m) => void w.u16(m.flags, "flags").u16(m.missSendLen, "missSendLen"),
  decode: (r, h) => ({
    type: "GET_CONFIG_REPLY",
    xid: h.xid,
    flags: r.u16("flags"),
    missSendLen: r.u16("miss_send_len"),
  }),
};

export const setConfigCodec: MessageCodec<SetConfig> = {
  code: 9,
  encode: (w, m) => void w.u16(m.flags, "flags").u16(m.missSendLen, "missSendLen"),
  decode: (r, h) => ({
    type: "SET_CONFIG",
    xid: h.xid,
    flags: r.u16("flags"),
    missSendLen: r.u16("miss_send_len"),
  }),
};
