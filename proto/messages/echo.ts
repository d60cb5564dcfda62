import type { MessageCodec } from "./codec.ts";

export interface EchoRequest {
  type: "ECHO_REQUEST";
  xid: number;
  data: Uint8Array;
}
export interface EchoReply {
  type: "ECHO_REPLY";
  xid: number;
  data: Uint8Array;
}

export const echoRequestCodec: MessageCodec<EchoRequest> = {
  code: 2,
  encode: (w, m) => void w.bytes(m.data),
  decode: (r, h) => ({ type: "ECHO_REQUEST", xid: h.xid, data: r.rest() }),
};
export const echoReplyCodec: MessageCodec<EchoReply> = {
  code: 3,
  encode: (w, m) => void w.bytes(m.data),
  decode: (r, h) => ({ type: "ECHO_REPLY", xid: h.xid, data: r.rest() }),
};
