import { emptyBodyCodec } from "./codec.ts";

export interface BarrierRequest {
  type: "BARRIER_REQUEST";
  xid: number;
}
export interface BarrierReply {
  type: "BARRIER_REPLY";
  xid: number;
}

export const barrierRequestCodec = emptyBodyCodec<BarrierRequest>(20, (xid) => ({
  type: "BARRIER_REQUEST",
  xid,
}));
export const barrierReplyCodec = emptyBodyCodec<BarrierReply>(21, (xid) => ({ type: "BARRIER_REPLY", xid }));
