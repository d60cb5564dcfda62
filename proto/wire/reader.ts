import { ProtoError } from "../errors.ts";

/**
 * A cursor over a window of bytes. Every read is bounds-checked against the window, so a
 * length field from the wire can never make us read, or allocate, past the message.
 * Offsets in errors are absolute within the outermost buffer.
 */
export class Reader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly end: number;
  private pos: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      throw new ProtoError("TRUNCATED", `${what}: needs ${n} bytes, ${this.end - this.pos} left`, this.pos);
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what = "u64"): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  /** A copy, so decoded messages never alias the (reused) receive buffer. */
  bytesCopy(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(n: number, what = "padding"): void {
    this.need(n, what);
    this.pos += n;
  }
  /** A fixed-size, NUL-padded ASCII string field (port names, descriptions). */
  fixedString(n: number, what = "string"): string {
    this.need(n, what);
    let stop = this.pos;
    const limit = this.pos + n;
    while (stop < limit && this.bytes[stop] !== 0) stop++;
    let s = "";
    for (let i = this.pos; i < stop; i++) s += String.fromCharCode(this.bytes[i]!);
    this.pos = limit;
    return s;
  }
  /** Peeks a u16 at `at` bytes from the cursor without moving it. */
  peekU16(at = 0, what = "u16"): number {
    if (this.end - this.pos < at + 2) {
      throw new ProtoError(
        "TRUNCATED",
        `${what}: needs ${at + 2} bytes, ${this.end - this.pos} left`,
        this.pos,
      );
    }
    return this.view.getUint16(this.pos + at);
  }
  /**
   * A reader over the next `n` bytes; the cursor moves past them. Used for length-delimited
   * elements so that an element can never read into its neighbour.
   */
  sub(n: number, what = "element"): Reader {
    this.need(n, what);
    const r = new Reader(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  /** Everything left in the window, as a copy. */
  rest(): Uint8Array {
    return this.bytesCopy(this.remaining);
  }
}
