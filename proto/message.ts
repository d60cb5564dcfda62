import { OFP_HEADER_LEN, OFP_MAX_MESSAGE_LEN, OFP_VERSION } from "./constants.ts";
import { ProtoError } from "./errors.ts";
import {
  type GetAsyncReply,
  type GetAsyncRequest,
  getAsyncReplyCodec,
  getAsyncRequestCodec,
  type SetAsync,
  setAsyncCodec,
} from "./messages/async-config.ts";
import {
  type BarrierReply,
  type BarrierRequest,
  barrierReplyCodec,
  barrierRequestCodec,
} from "./messages/barrier.ts";
import {
  type BundleAddMessage,
  type BundleControl,
  bundleAddMessageCodec,
  bundleControlCodec,
} from "./messages/bundle.ts";
import type { CodecContext, MessageCodec, OfpHeader } from "./messages/codec.ts";
import { type EchoReply, type EchoRequest, echoReplyCodec, echoRequestCodec } from "./messages/echo.ts";
import { type ErrorMsg, errorCodec } from "./messages/error.ts";
import { type ExperimenterMsg, experimenterCodec } from "./messages/experimenter.ts";
import {
  type FeaturesReply,
  type FeaturesRequest,
  featuresReplyCodec,
  featuresRequestCodec,
} from "./messages/features.ts";
import { type FlowMod, flowModCodec } from "./messages/flow-mod.ts";
import { type FlowRemoved, flowRemovedCodec } from "./messages/flow-removed.ts";
import { type GroupMod, groupModCodec } from "./messages/group-mod.ts";
import { type Hello, helloCodec } from "./messages/hello.ts";
import { type PacketIn, packetInCodec } from "./messages/packet-in.ts";
import { type PacketOut, packetOutCodec } from "./messages/packet-out.ts";
import { type PortMod, portModCodec } from "./messages/port-mod.ts";
import { type PortStatus, portStatusCodec } from "./messages/port-status.ts";
import { type RoleReply, type RoleRequest, roleReplyCodec, roleRequestCodec } from "./messages/role.ts";
import {
  type GetConfigReply,
  type GetConfigRequest,
  getConfigReplyCodec,
  getConfigRequestCodec,
  type SetConfig,
  setConfigCodec,
} from "./messages/switch-config.ts";
import { type TableMod, tableModCodec } from "./messages/table-mod.ts";
import {
  type MultipartReply,
  type MultipartRequest,
  multipartReplyCodec,
  multipartRequestCodec,
} from "./multipart/multipart.ts";
import { Reader } from "./wire/reader.ts";
import { Writer } from "./wire/writer.ts";

/** Every OpenFlow 1.3 message we encode and decode, discriminated by `type`. */
export type OfpMessage =
  | Hello
  | EchoRequest
  | EchoReply
  | FeaturesRequest
  | FeaturesReply
  | MultipartRequest
  | MultipartReply
  | BarrierRequest
  | BarrierReply
  | FlowMod
  | PacketIn
  | PacketOut
  | FlowRemoved
  | GroupMod
  | ErrorMsg
  | ExperimenterMsg
  | BundleControl
  | BundleAddMessage
  | GetConfigRequest
  | GetConfigReply
  | SetConfig
  | PortStatus
  | PortMod
  | TableMod
  | RoleRequest
  | RoleReply
  | GetAsyncRequest
  | GetAsyncReply
  | SetAsync;

export type OfpMessageType = OfpMessage["type"];

type CodecTable = { [M in OfpMessage as M["type"]]: MessageCodec<M> };

const codecs: CodecTable = {
  HELLO: helloCodec,
  ECHO_REQUEST: echoRequestCodec,
  ECHO_REPLY: echoReplyCodec,
  FEATURES_REQUEST: featuresRequestCodec,
  FEATURES_REPLY: featuresReplyCodec,
  MULTIPART_REQUEST: multipartRequestCodec,
  MULTIPART_REPLY: multipartReplyCodec,
  BARRIER_REQUEST: barrierRequestCodec,
  BARRIER_REPLY: barrierReplyCodec,
  FLOW_MOD: flowModCodec,
  PACKET_IN: packetInCodec,
  PACKET_OUT: packetOutCodec,
  FLOW_REMOVED: flowRemovedCodec,
  GROUP_MOD: groupModCodec,
  ERROR: errorCodec,
  EXPERIMENTER: experimenterCodec,
  BUNDLE_CONTROL: bundleControlCodec,
  BUNDLE_ADD_MESSAGE: bundleAddMessageCodec,
  GET_CONFIG_REQUEST: getConfigRequestCodec,
  GET_CONFIG_REPLY: getConfigReplyCodec,
  SET_CONFIG: setConfigCodec,
  PORT_STATUS: portStatusCodec,
  PORT_MOD: portModCodec,
  TABLE_MOD: tableModCodec,
  ROLE_REQUEST: roleRequestCodec,
  ROLE_REPLY: roleReplyCodec,
  GET_ASYNC_REQUEST: getAsyncRequestCodec,
  GET_ASYNC_REPLY: getAsyncReplyCodec,
  SET_ASYNC: setAsyncCodec,
};

type Decode = NonNullable<MessageCodec<OfpMessage>["decode"]>;
const decoders = new Map<number, Decode>();
for (const codec of Object.values(codecs) as MessageCodec<OfpMessage>[]) {
  if (codec.decode) decoders.set(codec.code, codec.decode);
}

const ctx: CodecContext = {
  encodeMessage: (m) => encodeMessage(m),
  decodeMessage: (bytes, base) => {
    try {
      return decodeAt(bytes);
    } catch (err) {
      throw err instanceof ProtoError ? err.shifted(base) : err;
    }
  },
};

/**
 * One spare writer, reused across calls: allocating a buffer per message was a third of the
 * encode time. A nested encode (a bundled message) finds the slot empty and makes its own.
 */
let spareWriter: Writer | undefined = new Writer(1024);

/** Encodes one message, header included. Throws ProtoError for a value that does not fit its field. */
export function encodeMessage(m: OfpMessage): Uint8Array {
  const w = spareWriter ?? new Writer();
  spareWriter = undefined;
  try {
    return encodeWith(w, m);
  } finally {
    w.reset();
    spareWriter = w;
  }
}

function encodeWith(w: Writer, m: OfpMessage): Uint8Array {
  const codec = codecs[m.type] as MessageCodec<OfpMessage> | undefined;
  if (!codec) throw new ProtoError("BAD_TYPE", `unknown message type '${String(m.type)}'`);
  const version =
    (m.type === "HELLO" || m.type === "ERROR") && m.version !== undefined ? m.version : OFP_VERSION;
  w.u8(version, "version").u8(codec.code).u16(0).u32(m.xid, "xid");
  try {
    codec.encode(w, m, ctx);
  } catch (err) {
    if (err instanceof ProtoError) throw err;
    // A message object of the wrong shape (from JSON, say): name the message, not our internals.
    throw new ProtoError(
      "BAD_VALUE",
      `${m.type}: malformed message object (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const length = w.offset;
  if (length > OFP_MAX_MESSAGE_LEN) {
    throw new ProtoError("TOO_LONG", `${m.type} would be ${length} bytes, over 65535`);
  }
  w.patchU16(2, length);
  return w.copy();
}

/** Reads the 8-byte header at the start of `bytes`. */
export function decodeHeader(bytes: Uint8Array): OfpHeader {
  if (bytes.length < OFP_HEADER_LEN) {
    throw new ProtoError("TRUNCATED", `OpenFlow header needs 8 bytes, got ${bytes.length}`);
  }
  // Read in place, without a Reader and its DataView: every received message starts here.
  const xid = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  return { version: bytes[0]!, type: bytes[1]!, length: (bytes[2]! << 8) | bytes[3]!, xid };
}

/** Offsets in errors are from the start of `bytes`; an enclosing decoder shifts them. */
function decodeAt(bytes: Uint8Array): OfpMessage {
  const h = decodeHeader(bytes);
  if (h.length !== bytes.length) {
    throw new ProtoError("BAD_LENGTH", `header length ${h.length} but message has ${bytes.length} bytes`, 2);
  }
  // A HELLO or an ERROR may come in another version: we must read them to negotiate or report.
  if (h.version !== OFP_VERSION && h.type !== 0 && h.type !== 1) {
    throw new ProtoError("BAD_VERSION", `version 0x${h.version.toString(16)} is not OpenFlow 1.3 (0x04)`, 0);
  }
  const decode = decoders.get(h.type);
  if (!decode) throw new ProtoError("BAD_TYPE", `unknown message type ${h.type}`, 1);
  const r = new Reader(bytes, OFP_HEADER_LEN);
  const m = decode(r, h, ctx);
  if (!r.atEnd) throw new ProtoError("BAD_LENGTH", `${r.remaining} unexpected trailing bytes`, r.offset);
  return m;
}

/**
 * Decodes exactly one whole message (as the framer yields them). Any malformed input gives a
 * ProtoError naming what is wrong and where; nothing else is ever thrown.
 */
export function decodeMessage(bytes: Uint8Array): OfpMessage {
  try {
    return decodeAt(bytes);
  } catch (err) {
    if (err instanceof ProtoError) throw err;
    // A decoder bug must not escape as a RangeError into a switch session.
    throw new ProtoError(
      "BAD_VALUE",
      `undecodable message: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
