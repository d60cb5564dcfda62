import type { PROTO_ERRORS } from "../contract/errors/codes/proto.ts";
import { IcsdnError } from "../contract/errors/index.ts";

/** What went wrong while decoding or encoding OpenFlow bytes (contract/errors/codes/proto.ts). */
export type ProtoErrorCode = keyof typeof PROTO_ERRORS;

/** The only exception proto/ throws: says what is wrong and at which byte offset of the message. */
export class ProtoError extends IcsdnError<ProtoErrorCode> {
  override readonly name = "ProtoError";
  readonly offset: number;
  /** The message without its offset, so an error inside a nested message can be re-based. */
  readonly detail: string;
  constructor(code: ProtoErrorCode, detail: string, offset = 0) {
    super(code, `${detail} (at byte ${offset})`, { details: { offset } });
    this.offset = offset;
    this.detail = detail;
  }

  /** The same error, with its offset counted from `by` bytes earlier (an enclosing message). */
  shifted(by: number): ProtoError {
    return by === 0 ? this : new ProtoError(this.code, this.detail, this.offset + by);
  }
}
