import { decodeMatch, encodeMatch, type OxmField } from "../match.ts";
import { nameTable } from "../wire/names.ts";
import type { MessageCodec } from "./codec.ts";

/** ofp_packet_in_reason */
export const packetInReasons = nameTable({ NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 });
export type PacketInReason = (typeof packetInReasons.names)[number];

/** OFPT_PACKET_IN: a packet the switch sends to the controller. */
export interface PacketIn {
  type: "PACKET_IN";
  xid: number;
  /** OFP_NO_BUFFER when `data` is the whole packet. */
  bufferId: number;
  /** The packet's full length; `data` may be shorter (OUTPUT maxLen). */
  totalLen: number;
  reason: PacketInReason;
  tableId: number;
  cookie: bigint;
  /** Pipeline fields of the packet (IN_PORT, METADATA, TUNNEL_ID, ...). */
  match: OxmField[];
  data: Uint8Array;
}

export const packetInCodec: MessageCodec<PacketIn> = {
  code: 10,
  encode(w, m) {
    w.u32(m.bufferId, "bufferId")
      .u16(m.totalLen, "totalLen")
      .u8(packetInReasons.code(m.reason, "reason", w.offset))
      .u8(m.tableId, "tableId")
      .u64(m.cookie, "cookie");
    encodeMatch(w, m.match);
    w.zeros(2).bytes(m.data);
  },
  decode(r, h) {
    const bufferId = r.u32("buffer_id");
    const totalLen = r.u16("total_len");
    const reasonAt = r.offset;
    const reason = packetInReasons.name(r.u8("reason"), "packet_in reason", reasonAt);
    const tableId = r.u8("table_id");
    const cookie = r.u64("cookie");
    const match = decodeMatch(r);
    r.skip(2, "packet_in padding");
    const data = r.rest();
    return { type: "PACKET_IN", xid: h.xid, bufferId, totalLen, reason, tableId, cookie, match, data };
  },
};
