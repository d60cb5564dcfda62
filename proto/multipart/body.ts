import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";

/** ofp_multipart_type */
export const OFPMP = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  QUEUE: 5,
  GROUP: 6,
  GROUP_DESC: 7,
  GROUP_FEATURES: 8,
  METER: 9,
  METER_CONFIG: 10,
  METER_FEATURES: 11,
  TABLE_FEATURES: 12,
  PORT_DESC: 13,
  EXPERIMENTER: 0xffff,
} as const;

/** ofp_multipart_request_flags / reply flags: more parts follow. */
export const OFPMPF_MORE = 1;

/** A multipart type we do not model: its body is carried as bytes. */
export interface RawMultipartBody {
  kind: "RAW";
  mpType: number;
  data: Uint8Array;
}

/** How one multipart body kind goes to and from bytes; `decode` gets a reader bounded to the body. */
export interface MultipartBodyCodec<B extends { kind: string }> {
  readonly mpType: number;
  encode(w: Writer, body: B): void;
  decode(r: Reader): B;
}
