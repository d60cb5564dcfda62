import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import { emptyBodyCodec, type MessageCodec } from "./codec.ts";

/** A pair of bitmasks: [0] for a MASTER or EQUAL controller, [1] for a SLAVE. */
export type RoleMasks = [number, number];

/**
 * ofp_async_config: which asynchronous messages this connection gets. Bit n set means reason n
 * is sent (OFPR_* for packet-in, OFPPR_* for port status, OFPRR_* for flow removed).
 */
export interface AsyncConfig {
  packetInMask: RoleMasks;
  portStatusMask: RoleMasks;
  flowRemovedMask: RoleMasks;
}

export interface GetAsyncRequest {
  type: "GET_ASYNC_REQUEST";
  xid: number;
}
export interface GetAsyncReply extends AsyncConfig {
  type: "GET_ASYNC_REPLY";
  xid: number;
}
export interface SetAsync extends AsyncConfig {
  type: "SET_ASYNC";
  xid: number;
}

function encodeAsync(w: Writer, m: AsyncConfig): void {
  w.u32(m.packetInMask[0], "packetInMask[0]").u32(m.packetInMask[1], "packetInMask[1]");
  w.u32(m.portStatusMask[0], "portStatusMask[0]").u32(m.portStatusMask[1], "portStatusMask[1]");
  w.u32(m.flowRemovedMask[0], "flowRemovedMask[0]").u32(m.flowRemovedMask[1], "flowRemovedMask[1]");
}

function decodeAsync(r: Reader): AsyncConfig {
  return {
    packetInMask: [r.u32("packet_in_mask[0]"), r.u32("packet_in_mask[1]")],
    portStatusMask: [r.u32("port_status_mask[0]"), r.u32("port_status_mask[1]")],
    flowRemovedMask: [r.u32("flow_removed_mask[0]"), r.u32("flow_removed_mask[1]")],
  };
}

export const getAsyncRequestCodec = emptyBodyCodec<GetAsyncRequest>(26, (xid) => ({
  type: "GET_ASYNC_REQUEST",
  xid,
}));
export const getAsyncReplyCodec: MessageCodec<GetAsyncReply> = {
  code: 27,
  encode: encodeAsync,
  decode: (r, h) => ({ type: "GET_ASYNC_REPLY", xid: h.xid, ...decodeAsync(r) }),
};
export const setAsyncCodec: MessageCodec<SetAsync> = {
  code: 28,
  encode: encodeAsync,
  decode: (r, h) => ({ type: "SET_ASYNC", xid: h.xid, ...decodeAsync(r) }),
};
