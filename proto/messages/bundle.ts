import { EXPERIMENTER_ID, OFP_HEADER_LEN } from "../constants.ts";
import { ProtoError } from "../errors.ts";
import type { OfpMessage } from "../message.ts";
import { nameTable } from "../wire/names.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import type { CodecContext, MessageCodec, OfpHeader } from "./codec.ts";

/**
 * ONF EXT-230 bundles, as OVS accepts them in OpenFlow 1.3: experimenter messages (type 4) of
 * experimenter ONF. Decoding goes through the EXPERIMENTER codec, which dispatches here.
 */
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;

/** ofp_bundle_flags */
export const OFPBF = { ATOMIC: 1, ORDERED: 2 } as const;

/** ofp_bundle_ctrl_type */
export const bundleCtrlTypes = nameTable({
  OPEN_REQUEST: 0,
  OPEN_REPLY: 1,
  CLOSE_REQUEST: 2,
  CLOSE_REPLY: 3,
  COMMIT_REQUEST: 4,
  COMMIT_REPLY: 5,
  DISCARD_REQUEST: 6,
  DISCARD_REPLY: 7,
});
export type BundleCtrlType = (typeof bundleCtrlTypes.names)[number];

/** ONFT_BUNDLE_CONTROL: open, close, commit or discard a bundle, and the switch's replies. */
export interface BundleControl {
  type: "BUNDLE_CONTROL";
  xid: number;
  bundleId: number;
  ctrlType: BundleCtrlType;
  /** OFPBF_* bits */
  flags: number;
  /** ofp_bundle_prop_* list, undecoded */
  properties: Uint8Array;
}

/** ONFT_BUNDLE_ADD_MESSAGE: one message to apply when the bundle commits. */
export interface BundleAddMessage {
  type: "BUNDLE_ADD_MESSAGE";
  /** must equal message.xid (the switch refuses others with OFPBFC_MSG_BAD_XID) */
  xid: number;
  bundleId: number;
  flags: number;
  /** a whole message: FLOW_MOD, GROUP_MOD, PORT_MOD, PACKET_OUT... (OVS rejects others) */
  message: OfpMessage;
  properties: Uint8Array;
}

function writeOnfHeader(w: Writer, expType: number): void {
  w.u32(EXPERIMENTER_ID.ONF).u32(expType);
}

export const bundleControlCodec: MessageCodec<BundleControl> = {
  code: 4,
  encode(w, m) {
    const ctrlType = bundleCtrlTypes.code(m.ctrlType, "ctrlType", w.offset + 12);
    writeOnfHeader(w, ONFT_BUNDLE_CONTROL);
    w.u32(m.bundleId, "bundleId").u16(ctrlType).u16(m.flags, "flags").bytes(m.properties);
  },
};

export const bundleAddMessageCodec: MessageCodec<BundleAddMessage> = {
  code: 4,
  encode(w, m, ctx) {
    if (m.message.xid !== m.xid) {
      throw new ProtoError(
        "BAD_VALUE",
        `bundle add xid ${m.xid} differs from its message's ${m.message.xid}`,
      );
    }
    writeOnfHeader(w, ONFT_BUNDLE_ADD_MESSAGE);
    w.u32(m.bundleId, "bundleId").zeros(2).u16(m.flags, "flags");
    const start = w.offset;
    w.bytes(ctx.encodeMessage(m.message));
    // Properties start 8-aligned; without them the message ends unpadded.
    if (m.properties.length > 0) w.padTo(8, start).bytes(m.properties);
  },
};

/** The body after experimenter and exp_type. */
export function decodeBundleControl(r: Reader, h: OfpHeader): BundleControl {
  const bundleId = r.u32("bundle_id");
  const at = r.offset;
  const ctrlType = bundleCtrlTypes.name(r.u16("bundle ctrl type"), "bundle ctrl type", at);
  const flags = r.u16("bundle flags");
  return { type: "BUNDLE_CONTROL", xid: h.xid, bundleId, ctrlType, flags, properties: r.rest() };
}

/** The body after experimenter and exp_type. */
export function decodeBundleAdd(r: Reader, h: OfpHeader, ctx: CodecContext): BundleAddMessage {
  const bundleId = r.u32("bundle_id");
  r.skip(2);
  const flags = r.u16("bundle flags");
  const at = r.offset;
  const length = r.peekU16(2, "bundled message header");
  if (length < OFP_HEADER_LEN || length > r.remaining) {
    throw new ProtoError(
      "BAD_LENGTH",
      `bundled message length ${length} does not fit the ${r.remaining} bytes left`,
      at + 2,
    );
  }
  const message = ctx.decodeMessage(r.bytesCopy(length, "bundled message"), at);
  // Padding to 8 comes only before properties; a lone trailing pad is tolerated.
  const pad = (8 - (length % 8)) % 8;
  r.skip(Math.min(pad, r.remaining));
  return { type: "BUNDLE_ADD_MESSAGE", xid: h.xid, bundleId, flags, message, properties: r.rest() };
}
