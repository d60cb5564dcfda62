import { type Bucket, decodeBuckets, encodeBuckets, type GroupType, groupTypes } from "../buckets.ts";
import { nameTable } from "../wire/names.ts";
import type { MessageCodec } from "./codec.ts";

/** ofp_group_mod_command */
export const groupModCommands = nameTable({ ADD: 0, MODIFY: 1, DELETE: 2 });
export type GroupModCommand = (typeof groupModCommands.names)[number];

/** OFPT_GROUP_MOD. */
export interface GroupMod {
  type: "GROUP_MOD";
  xid: number;
  command: GroupModCommand;
  groupType: GroupType;
  /** OFPG.ALL with DELETE removes every group. */
  groupId: number;
  buckets: Bucket[];
}

export const groupModCodec: MessageCodec<GroupMod> = {
  code: 15,
  encode(w, m) {
    w.u16(groupModCommands.code(m.command, "command", w.offset))
      .u8(groupTypes.code(m.groupType, "groupType", w.offset))
      .zeros(1)
      .u32(m.groupId, "groupId");
    encodeBuckets(w, m.buckets);
  },
  decode(r, h) {
    const at = r.offset;
    const command = groupModCommands.name(r.u16("command"), "group_mod command", at);
    const groupType = groupTypes.name(r.u8("type"), "group type", at + 2);
    r.skip(1);
    const groupId = r.u32("group_id");
    return { type: "GROUP_MOD", xid: h.xid, command, groupType, groupId, buckets: decodeBuckets(r) };
  },
};
