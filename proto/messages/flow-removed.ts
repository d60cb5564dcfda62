import { decodeMatch, encodeMatch, type OxmField } from "../match.ts";
import { nameTable } from "../wire/names.ts";
import type { MessageCodec } from "./codec.ts";

/**
 * ofp_flow_removed_reason. METER_DELETE and EVICTION are OpenFlow 1.4 names; OVS may send
 * EVICTION on a 1.3 channel, and refusing the message would hide that a flow is gone.
 */
export const flowRemovedReasons = nameTable({
  IDLE_TIMEOUT: 0,
  HARD_TIMEOUT: 1,
  DELETE: 2,
  GROUP_DELETE: 3,
  METER_DELETE: 4,
  EVICTION: 5,
});
export type FlowRemovedReason = (typeof flowRemovedReasons.names)[number];

/** OFPT_FLOW_REMOVED: a flow with OFPFF.SEND_FLOW_REM left the table. */
export interface FlowRemoved {
  type: "FLOW_REMOVED";
  xid: number;
  cookie: bigint;
  priority: number;
  reason: FlowRemovedReason;
  tableId: number;
  durationSec: number;
  durationNsec: number;
  idleTimeout: number;
  hardTimeout: number;
  packetCount: bigint;
  byteCount: bigint;
  match: OxmField[];
}

export const flowRemovedCodec: MessageCodec<FlowRemoved> = {
  code: 11,
  encode(w, m) {
    w.u64(m.cookie, "cookie")
      .u16(m.priority, "priority")
      .u8(flowRemovedReasons.code(m.reason, "reason", w.offset))
      .u8(m.tableId, "tableId")
      .u32(m.durationSec, "durationSec")
      .u32(m.durationNsec, "durationNsec")
      .u16(m.idleTimeout, "idleTimeout")
      .u16(m.hardTimeout, "hardTimeout")
      .u64(m.packetCount, "packetCount")
      .u64(m.byteCount, "byteCount");
    encodeMatch(w, m.match);
  },
  decode(r, h) {
    const cookie = r.u64("cookie");
    const priority = r.u16("priority");
    const reasonAt = r.offset;
    const reason = flowRemovedReasons.name(r.u8("reason"), "flow_removed reason", reasonAt);
    const tableId = r.u8("table_id");
    const durationSec = r.u32("duration_sec");
    const durationNsec = r.u32("duration_nsec");
    const idleTimeout = r.u16("idle_timeout");
    const hardTimeout = r.u16("hard_timeout");
    const packetCount = r.u64("packet_count");
    const byteCount = r.u64("byte_count");
    const match = decodeMatch(r);
    return {
      type: "FLOW_REMOVED",
      xid: h.xid,
      cookie,
      priority,
      reason,
      tableId,
      durationSec,
      durationNsec,
      idleTimeout,
      hardTimeout,
      packetCount,
      byteCount,
      match,
    };
  },
};
