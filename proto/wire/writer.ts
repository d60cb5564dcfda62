import { ProtoError } from "../errors.ts";

/**
 * Finished messages are carved out of shared slabs, as Node's Buffer pool does: a fresh
 * ArrayBuffer per 100-byte message costs more than encoding it. 8 KiB bounds what one retained
 * message can keep alive; a message over a quarter slab gets its own buffer.
 */
const SLAB_SIZE = 8192;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

function carve(src: Uint8Array, n: number): Uint8Array {
  if (n > SLAB_SIZE / 4) return src.slice(0, n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const at = slabUsed;
  // Messages stay 8-byte aligned, as a fresh buffer would be.
  slabUsed = (at + n + 7) & ~7;
  const out = slab.subarray(at, at + n);
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return out;
}

/** A growable big-endian byte sink. Lengths are written as placeholders and patched afterwards. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  get offset(): number {
    return this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private check(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new ProtoError("BAD_VALUE", `${what}: ${String(v)} is not an integer in 0..${max}`, this.pos);
    }
  }

  u8(v: number, what = "u8"): this {
    this.check(v, 0xff, what);
    this.room(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }
  u16(v: number, what = "u16"): this {
    this.check(v, 0xffff, what);
    this.room(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }
  u32(v: number, what = "u32"): this {
    this.check(v, 0xffffffff, what);
    this.room(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }
  u64(v: bigint, what = "u64"): this {
    if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn) {
      throw new ProtoError("BAD_VALUE", `${what}: ${String(v)} is not a 64-bit unsigned bigint`, this.pos);
    }
    this.room(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  zeros(n: number): this {
    this.room(n);
    const buf = this.buf;
    // A loop: fill() costs a call into the runtime, more than the handful of bytes of a pad.
    for (let i = this.pos, end = this.pos + n; i < end; i++) buf[i] = 0;
    this.pos += n;
    return this;
  }
  /** Pads with zeros to the next multiple of `align` bytes counted from `from`. */
  padTo(align: number, from = 0): this {
    const rem = (this.pos - from) % align;
    return rem === 0 ? this : this.zeros(align - rem);
  }
  /** A fixed-size NUL-padded ASCII field; the value must leave room for the terminating NUL. */
  fixedString(s: string, n: number, what: string): this {
    if (s.length > n - 1)
      throw new ProtoError("BAD_VALUE", `${what}: '${s}' is longer than ${n - 1} bytes`, this.pos);
    this.room(n);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7e) throw new ProtoError("BAD_VALUE", `${what}: only ASCII is allowed`, this.pos);
      this.buf[this.pos + i] = c;
    }
    this.buf.fill(0, this.pos + s.length, this.pos + n);
    this.pos += n;
    return this;
  }
  patchU16(at: number, v: number): void {
    this.view.setUint16(at, v);
  }
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v);
  }
  /** The bytes written so far (a view; the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  /**
   * A copy of the bytes written so far (its own bytes, maybe in a buffer shared with other
   * messages: read it through byteOffset); the writer may then be reset and reused.
   */
  copy(): Uint8Array {
    return carve(this.buf, this.pos);
  }
  reset(): void {
    this.pos = 0;
  }
}
