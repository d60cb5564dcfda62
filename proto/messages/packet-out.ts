import { type Action, decodeActions, encodeActions } from "../actions.ts";
import { ProtoError } from "../errors.ts";
import type { MessageCodec } from "./codec.ts";

/** OFPT_PACKET_OUT: the controller sends a packet through a switch's actions. */
export interface PacketOut {
  type: "PACKET_OUT";
  xid: number;
  /** OFP_NO_BUFFER when `data` carries the packet. */
  bufferId: number;
  /** The port the packet is treated as coming in on (OFPP.CONTROLLER when none). */
  inPort: number;
  actions: Action[];
  data: Uint8Array;
}

export const packetOutCodec: MessageCodec<PacketOut> = {
  code: 13,
  encode(w, m) {
    w.u32(m.bufferId, "bufferId").u32(m.inPort, "inPort");
    const lenAt = w.offset;
    w.u16(0).zeros(6);
    const len = encodeActions(w, m.actions);
    if (len > 0xffff) throw new ProtoError("TOO_LONG", `actions of ${len} bytes`, lenAt);
    w.patchU16(lenAt, len);
    w.bytes(m.data);
  },
  decode(r, h) {
    const bufferId = r.u32("buffer_id");
    const inPort = r.u32("in_port");
    const lenAt = r.offset;
    const actionsLen = r.u16("actions_len");
    r.skip(6);
    if (actionsLen > r.remaining) {
      throw new ProtoError("BAD_LENGTH", `actions_len ${actionsLen} runs past the message`, lenAt);
    }
    const actions = decodeActions(r.sub(actionsLen, "actions"));
    const data = r.rest();
    return { type: "PACKET_OUT", xid: h.xid, bufferId, inPort, actions, data };
  },
};
