import { ProtoError } from "../errors.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import type { MessageCodec } from "./codec.ts";

const OFPHET_VERSIONBITMAP = 1;

export type HelloElement =
  | { kind: "VERSION_BITMAP"; versions: number[] }
  | { kind: "UNKNOWN"; elementType: number; data: Uint8Array };

/**
 * OFPT_HELLO. `version` is the header version (the highest the sender speaks); it is kept because
 * a HELLO is the one message we must read whatever version it comes in, to negotiate.
 */
export interface Hello {
  type: "HELLO";
  xid: number;
  version?: number;
  elements: HelloElement[];
}

function encodeElement(w: Writer, e: HelloElement): void {
  const start = w.offset;
  if (e.kind === "VERSION_BITMAP") {
    w.u16(OFPHET_VERSIONBITMAP).u16(0);
    const words = Math.max(1, Math.ceil((Math.max(-1, ...e.versions) + 1) / 32));
    const bitmap = new Array<number>(words).fill(0);
    for (const v of e.versions) {
      if (!Number.isInteger(v) || v < 0 || v > 0xfff) {
        throw new ProtoError("BAD_VALUE", `hello version bitmap: version ${v} out of range`, w.offset);
      }
      bitmap[v >>> 5]! |= 1 << (v & 31);
    }
    for (const word of bitmap) w.u32(word >>> 0);
  } else {
    w.u16(e.elementType, "hello element type").u16(0).bytes(e.data);
  }
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", "hello element longer than 65535 bytes", start);
  w.patchU16(start + 2, len);
  w.padTo(8, start);
}

function decodeElement(r: Reader): HelloElement {
  const at = r.offset;
  const type = r.u16("hello element type");
  const len = r.u16("hello element length");
  if (len < 4) throw new ProtoError("BAD_LENGTH", `hello element length ${len} < 4`, at);
  const body = r.sub(len - 4, "hello element");
  // Elements are padded to 8 bytes, but the last one's padding may be missing in the wild.
  r.skip(Math.min(r.remaining, (8 - (len % 8)) % 8));
  if (type === OFPHET_VERSIONBITMAP) {
    if ((len - 4) % 4 !== 0)
      throw new ProtoError("BAD_LENGTH", `version bitmap length ${len - 4} not a multiple of 4`, at);
    const versions: number[] = [];
    for (let word = 0; !body.atEnd; word++) {
      const bits = body.u32("version bitmap");
      for (let b = 0; b < 32; b++) if (bits & (1 << b)) versions.push(word * 32 + b);
    }
    return { kind: "VERSION_BITMAP", versions };
  }
  return { kind: "UNKNOWN", elementType: type, data: body.rest() };
}

export const helloCodec: MessageCodec<Hello> = {
  code: 0,
  encode(w, m) {
    for (const e of m.elements) encodeElement(w, e);
  },
  decode(r, h) {
    const elements: HelloElement[] = [];
    while (!r.atEnd) elements.push(decodeElement(r));
    return { type: "HELLO", xid: h.xid, version: h.version, elements };
  },
};
