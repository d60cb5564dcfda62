import { ProtoError } from "../errors.ts";
import type { MessageCodec } from "../messages/codec.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import {
  type AggregateStatsReplyBody,
  type AggregateStatsRequestBody,
  aggregateStatsReplyCodec,
  aggregateStatsRequestCodec,
} from "./aggregate.ts";
import type { MultipartBodyCodec, RawMultipartBody } from "./body.ts";
import { type DescReplyBody, type DescRequestBody, descReplyCodec, descRequestCodec } from "./desc.ts";
import {
  type FlowStatsReplyBody,
  type FlowStatsRequestBody,
  flowStatsReplyCodec,
  flowStatsRequestCodec,
} from "./flow.ts";
import {
  type GroupStatsReplyBody,
  type GroupStatsRequestBody,
  groupStatsReplyCodec,
  groupStatsRequestCodec,
} from "./group.ts";
import {
  type GroupDescReplyBody,
  type GroupDescRequestBody,
  groupDescReplyCodec,
  groupDescRequestCodec,
} from "./group-desc.ts";
import {
  type PortDescReplyBody,
  type PortDescRequestBody,
  portDescReplyCodec,
  portDescRequestCodec,
} from "./port-desc.ts";
import {
  type PortStatsReplyBody,
  type PortStatsRequestBody,
  portStatsReplyCodec,
  portStatsRequestCodec,
} from "./port-stats.ts";
import {
  type TableStatsReplyBody,
  type TableStatsRequestBody,
  tableStatsReplyCodec,
  tableStatsRequestCodec,
} from "./table.ts";

/** Request bodies by kind; an unmodelled multipart type is RAW. */
export type MultipartRequestBody =
  | DescRequestBody
  | FlowStatsRequestBody
  | AggregateStatsRequestBody
  | GroupStatsRequestBody
  | GroupDescRequestBody
  | TableStatsRequestBody
  | PortStatsRequestBody
  | PortDescRequestBody
  | RawMultipartBody;
export type MultipartReplyBody =
  | DescReplyBody
  | FlowStatsReplyBody
  | AggregateStatsReplyBody
  | GroupStatsReplyBody
  | GroupDescReplyBody
  | TableStatsReplyBody
  | PortStatsReplyBody
  | PortDescReplyBody
  | RawMultipartBody;

export interface MultipartRequest {
  type: "MULTIPART_REQUEST";
  xid: number;
  /** OFPMPF_REQ_MORE */
  flags: number;
  body: MultipartRequestBody;
}
export interface MultipartReply {
  type: "MULTIPART_REPLY";
  xid: number;
  /** OFPMPF_REPLY_MORE */
  flags: number;
  body: MultipartReplyBody;
}

type BodyTable<B extends { kind: string }> = {
  [K in Exclude<B, RawMultipartBody> as K["kind"]]: MultipartBodyCodec<K>;
};

const requestBodies: BodyTable<MultipartRequestBody> = {
  DESC: descRequestCodec,
  FLOW: flowStatsRequestCodec,
  AGGREGATE: aggregateStatsRequestCodec,
  GROUP: groupStatsRequestCodec,
  GROUP_DESC: groupDescRequestCodec,
  TABLE: tableStatsRequestCodec,
  PORT_STATS: portStatsRequestCodec,
  PORT_DESC: portDescRequestCodec,
};
const replyBodies: BodyTable<MultipartReplyBody> = {
  DESC: descReplyCodec,
  FLOW: flowStatsReplyCodec,
  AGGREGATE: aggregateStatsReplyCodec,
  GROUP: groupStatsReplyCodec,
  GROUP_DESC: groupDescReplyCodec,
  TABLE: tableStatsReplyCodec,
  PORT_STATS: portStatsReplyCodec,
  PORT_DESC: portDescReplyCodec,
};

function isRaw(body: { kind: string }): body is RawMultipartBody {
  return body.kind === "RAW";
}

type AnyBodyCodec = MultipartBodyCodec<{ kind: string }>;

function byMpType(table: object): Map<number, AnyBodyCodec> {
  const m = new Map<number, AnyBodyCodec>();
  for (const c of Object.values(table) as AnyBodyCodec[]) m.set(c.mpType, c);
  return m;
}
const requestByType = byMpType(requestBodies);
const replyByType = byMpType(replyBodies);

function encodeBody(w: Writer, table: object, body: { kind: string }, flags: number): void {
  if (isRaw(body)) {
    w.u16(body.mpType, "mpType").u16(flags, "flags").zeros(4).bytes(body.data);
    return;
  }
  const codec = (table as Record<string, AnyBodyCodec | undefined>)[body.kind];
  if (!codec) throw new ProtoError("BAD_TYPE", `unknown multipart body kind '${body.kind}'`);
  w.u16(codec.mpType).u16(flags, "flags").zeros(4);
  codec.encode(w, body);
}

function decodeBody<B>(r: Reader, byType: Map<number, AnyBodyCodec>): { flags: number; body: B } {
  const mpType = r.u16("multipart type");
  const flags = r.u16("multipart flags");
  r.skip(4);
  const codec = byType.get(mpType);
  const body = codec ? codec.decode(r) : { kind: "RAW", mpType, data: r.rest() };
  return { flags, body: body as B };
}

export const multipartRequestCodec: MessageCodec<MultipartRequest> = {
  code: 18,
  encode: (w, m) => encodeBody(w, requestBodies, m.body, m.flags),
  decode(r, h) {
    const { flags, body } = decodeBody<MultipartRequestBody>(r, requestByType);
    return { type: "MULTIPART_REQUEST", xid: h.xid, flags, body };
  },
};

export const multipartReplyCodec: MessageCodec<MultipartReply> = {
  code: 19,
  encode: (w, m) => encodeBody(w, replyBodies, m.body, m.flags),
  decode(r, h) {
    const { flags, body } = decodeBody<MultipartReplyBody>(r, replyByType);
    return { type: "MULTIPART_REPLY", xid: h.xid, flags, body };
  },
};
