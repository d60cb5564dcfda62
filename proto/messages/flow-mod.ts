import { decodeInstructions, encodeInstructions, type Instruction } from "../instructions.ts";
import { decodeMatch, encodeMatch, type OxmField } from "../match.ts";
import { nameTable } from "../wire/names.ts";
import type { MessageCodec } from "./codec.ts";

/** ofp_flow_mod_command */
export const flowModCommands = nameTable({
  ADD: 0,
  MODIFY: 1,
  MODIFY_STRICT: 2,
  DELETE: 3,
  DELETE_STRICT: 4,
});
export type FlowModCommand = (typeof flowModCommands.names)[number];

/** ofp_flow_mod_flags bits. */
export const OFPFF = {
  SEND_FLOW_REM: 1 << 0,
  CHECK_OVERLAP: 1 << 1,
  RESET_COUNTS: 1 << 2,
  NO_PKT_COUNTS: 1 << 3,
  NO_BYT_COUNTS: 1 << 4,
} as const;

/** OFPT_FLOW_MOD. */
export interface FlowMod {
  type: "FLOW_MOD";
  xid: number;
  cookie: bigint;
  cookieMask: bigint;
  tableId: number;
  command: FlowModCommand;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  /** OFP_NO_BUFFER unless the flow should also act on a buffered packet. */
  bufferId: number;
  /** For DELETE*: only flows that output to this port (OFPP.ANY for all). */
  outPort: number;
  /** For DELETE*: only flows that output to this group (OFPG.ANY for all). */
  outGroup: number;
  /** OFPFF bits. */
  flags: number;
  match: OxmField[];
  instructions: Instruction[];
}

export const flowModCodec: MessageCodec<FlowMod> = {
  code: 14,
  encode(w, m) {
    w.u64(m.cookie, "cookie")
      .u64(m.cookieMask, "cookieMask")
      .u8(m.tableId, "tableId")
      .u8(flowModCommands.code(m.command, "command", w.offset))
      .u16(m.idleTimeout, "idleTimeout")
      .u16(m.hardTimeout, "hardTimeout")
      .u16(m.priority, "priority")
      .u32(m.bufferId, "bufferId")
      .u32(m.outPort, "outPort")
      .u32(m.outGroup, "outGroup")
      .u16(m.flags, "flags")
      .zeros(2);
    encodeMatch(w, m.match);
    encodeInstructions(w, m.instructions);
  },
  decode(r, h) {
    const cookie = r.u64("cookie");
    const cookieMask = r.u64("cookie_mask");
    const tableId = r.u8("table_id");
    const commandAt = r.offset;
    const command = flowModCommands.name(r.u8("command"), "flow_mod command", commandAt);
    const idleTimeout = r.u16("idle_timeout");
    const hardTimeout = r.u16("hard_timeout");
    const priority = r.u16("priority");
    const bufferId = r.u32("buffer_id");
    const outPort = r.u32("out_port");
    const outGroup = r.u32("out_group");
    const flags = r.u16("flags");
    r.skip(2);
    const match = decodeMatch(r);
    const instructions = decodeInstructions(r);
    return {
      type: "FLOW_MOD",
      xid: h.xid,
      cookie,
      cookieMask,
      tableId,
      command,
      idleTimeout,
      hardTimeout,
      priority,
      bufferId,
      outPort,
      outGroup,
      flags,
      match,
      instructions,
    };
  },
};
