import { type Bucket, decodeBuckets, encodeBuckets, type GroupType, groupTypes } from "../buckets.ts";
import { ProtoError } from "../errors.ts";
import { checkElementLength } from "../wire/elements.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import { type MultipartBodyCodec, OFPMP } from "./body.ts";

export interface GroupDescRequestBody {
  kind: "GROUP_DESC";
}

/** ofp_group_desc: one group as the switch holds it. */
export interface GroupDesc {
  groupType: GroupType;
  groupId: number;
  buckets: Bucket[];
}

export interface GroupDescReplyBody {
  kind: "GROUP_DESC";
  groups: GroupDesc[];
}

export const groupDescRequestCodec: MultipartBodyCodec<GroupDescRequestBody> = {
  mpType: OFPMP.GROUP_DESC,
  encode() {},
  decode: () => ({ kind: "GROUP_DESC" }),
};

const GROUP_DESC_HEADER_LEN = 8;

function encodeGroupDesc(w: Writer, g: GroupDesc): void {
  const start = w.offset;
  w.u16(0)
    .u8(groupTypes.code(g.groupType, "groupType", w.offset))
    .zeros(1)
    .u32(g.groupId, "groupId");
  encodeBuckets(w, g.buckets);
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", `group desc of ${len} bytes`, start);
  w.patchU16(start, len);
}

function decodeGroupDesc(r: Reader): GroupDesc {
  const at = r.offset;
  const len = r.peekU16(0, "group desc length");
  checkElementLength(len, GROUP_DESC_HEADER_LEN, 8, r.remaining, "group desc", at);
  const e = r.sub(len, "group desc");
  e.skip(2);
  const groupType = groupTypes.name(e.u8("type"), "group type", at + 2);
  e.skip(1);
  const groupId = e.u32("group_id");
  return { groupType, groupId, buckets: decodeBuckets(e) };
}

export const groupDescReplyCodec: MultipartBodyCodec<GroupDescReplyBody> = {
  mpType: OFPMP.GROUP_DESC,
  encode(w, b) {
    for (const g of b.groups) encodeGroupDesc(w, g);
  },
  decode(r) {
    const groups: GroupDesc[] = [];
    while (!r.atEnd) groups.push(decodeGroupDesc(r));
    return { kind: "GROUP_DESC", groups };
  },
};
