/** What went wrong while decoding or encoding OpenFlow bytes. */
export type ProtoErrorCode =
  | "TRUNCATED" // fewer bytes than a header or length field requires
  | "BAD_LENGTH" // a length field that is impossible (too small, not aligned, past its container)
  | "BAD_VERSION" // an OpenFlow version we do not speak
  | "BAD_TYPE" // an unknown message, multipart, action, instruction or property type
  | "BAD_FIELD" // an OXM field we do not know, or one with the wrong length
  | "BAD_VALUE" // a value out of range for its field
  | "TOO_LONG"; // an encoded message over 65,535 bytes

/** The only exception proto/ throws: says what is wrong and at which byte offset of the message. */
export class ProtoError extends Error {
  override readonly name = "ProtoError";
  readonly code: ProtoErrorCode;
  readonly offset: number;
  /** The message without its offset, so an error inside a nested message can be re-based. */
  readonly detail: string;
  constructor(code: ProtoErrorCode, detail: string, offset = 0) {
    super(`${detail} (at byte ${offset})`);
    this.code = code;
    this.offset = offset;
    this.detail = detail;
  }

  /** The same error, with its offset counted from `by` bytes earlier (an enclosing message). */
  shifted(by: number): ProtoError {
    return by === 0 ? this : new ProtoError(this.code, this.detail, this.offset + by);
  }
}
