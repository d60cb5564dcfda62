import { OFP_HEADER_LEN } from "./constants.ts";
import { ProtoError } from "./errors.ts";

/** OpenFlow 1.0 (0x01) to 1.5 (0x06); anything else on the channel is not OpenFlow. */
const MIN_VERSION = 0x01;
const MAX_VERSION = 0x06;
/** No bytes pending: shared (never written to), not one new empty array per chunk received. */
const NOTHING = new Uint8Array(0);

/**
 * Cuts a TCP byte stream into whole OpenFlow messages. Chunks may split or coalesce
 * messages arbitrarily. Memory stays bounded by one message (at most 65,535 bytes) because
 * the length field is 16 bits. After a framing error the stream cannot be resynchronised,
 * so every later push throws the same error.
 */
export class MessageFramer {
  private pending: Uint8Array = NOTHING;
  private consumed = 0;
  private failure: ProtoError | undefined;

  /** Returns the whole messages completed by `chunk`, in order (views into the input). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    let buf = chunk;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending);
      buf.set(chunk, this.pending.length);
    }
    const out: Uint8Array[] = [];
    let at = 0;
    while (buf.length - at >= OFP_HEADER_LEN) {
      const version = buf[at]!;
      const length = (buf[at + 2]! << 8) | buf[at + 3]!;
      if (version < MIN_VERSION || version > MAX_VERSION) {
        this.failure = new ProtoError(
          "BAD_VERSION",
          `not an OpenFlow header: version byte 0x${version.toString(16)}`,
          this.consumed + at,
        );
        throw this.failure;
      }
      if (length < OFP_HEADER_LEN) {
        this.failure = new ProtoError("BAD_LENGTH", `message length ${length} < 8`, this.consumed + at + 2);
        throw this.failure;
      }
      if (buf.length - at < length) break;
      out.push(buf.subarray(at, at + length));
      at += length;
    }
    this.consumed += at;
    this.pending = at === buf.length ? NOTHING : buf.slice(at);
    return out;
  }

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.pending.length;
  }
}
