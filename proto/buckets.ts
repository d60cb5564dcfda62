import { type Action, decodeActions, encodeActions } from "./actions.ts";
import { ProtoError } from "./errors.ts";
import { checkElementLength } from "./wire/elements.ts";
import { nameTable } from "./wire/names.ts";
import type { Reader } from "./wire/reader.ts";
import type { Writer } from "./wire/writer.ts";

/** ofp_group_type: shared by GROUP_MOD and the GROUP_DESC reply. */
export const groupTypes = nameTable({ ALL: 0, SELECT: 1, INDIRECT: 2, FF: 3 });
export type GroupType = (typeof groupTypes.names)[number];

/** ofp_bucket: one set of actions of a group. */
export interface Bucket {
  /** Relative weight, for SELECT groups (0 otherwise). */
  weight: number;
  /** For FF groups: the port whose liveness selects this bucket (OFPP.ANY otherwise). */
  watchPort: number;
  /** For FF groups: the group whose liveness selects this bucket (OFPG.ANY otherwise). */
  watchGroup: number;
  actions: Action[];
}

const BUCKET_HEADER_LEN = 16;

export function encodeBuckets(w: Writer, buckets: readonly Bucket[]): void {
  for (const b of buckets) {
    const start = w.offset;
    w.u16(0)
      .u16(b.weight, "bucket weight")
      .u32(b.watchPort, "bucket watchPort")
      .u32(b.watchGroup, "bucket watchGroup")
      .zeros(4);
    encodeActions(w, b.actions);
    const len = w.offset - start;
    if (len > 0xffff) throw new ProtoError("TOO_LONG", `bucket of ${len} bytes`, start);
    w.patchU16(start, len);
  }
}

/** Reads buckets until the reader's window ends; each length is checked before it is trusted. */
export function decodeBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (!r.atEnd) {
    const at = r.offset;
    const len = r.peekU16(0, "bucket length");
    checkElementLength(len, BUCKET_HEADER_LEN, 8, r.remaining, "bucket", at);
    const b = r.sub(len, "bucket");
    b.skip(2);
    const weight = b.u16("weight");
    const watchPort = b.u32("watch_port");
    const watchGroup = b.u32("watch_group");
    b.skip(4);
    out.push({ weight, watchPort, watchGroup, actions: decodeActions(b) });
  }
  return out;
}
