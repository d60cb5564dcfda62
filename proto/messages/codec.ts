import type { OfpMessage } from "../message.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";

/** The fixed 8-byte ofp_header, as read from the wire. */
export interface OfpHeader {
  readonly version: number;
  readonly type: number;
  readonly length: number;
  readonly xid: number;
}

/** Lets a message carry another whole message (bundle add) without an import cycle. */
export interface CodecContext {
  encodeMessage(m: OfpMessage): Uint8Array;
  decodeMessage(bytes: Uint8Array, baseOffset: number): OfpMessage;
}

/**
 * How one message type's body (everything after the header) goes to and from bytes.
 * `decode` gets a reader bounded to the body and must consume all of it.
 * Several message types may share a wire code (bundle messages are experimenter messages):
 * then only one codec per code has `decode`, and it returns whichever type it finds.
 */
export interface MessageCodec<M extends OfpMessage> {
  readonly code: number;
  encode(w: Writer, m: M, ctx: CodecContext): void;
  decode?(r: Reader, h: OfpHeader, ctx: CodecContext): OfpMessage;
}

/** A codec for a message with no body (FEATURES_REQUEST, BARRIER_REQUEST, ...). */
export function emptyBodyCodec<M extends OfpMessage & { xid: number }>(
  code: number,
  make: (xid: number) => M,
): MessageCodec<M> {
  return {
    code,
    encode() {},
    decode: (_r, h) => make(h.xid),
  };
}
