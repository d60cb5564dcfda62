import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OFPT } from "../../proto/constants.ts";
import { decodeMessage, encodeMessage, MessageFramer, ProtoError } from "../../proto/index.ts";
import { sampleMessages } from "./samples.ts";

/** Decoding never throws anything but ProtoError, and never hangs: each run is bounded by vitest's timeout. */
function decodesOrProtoError(bytes: Uint8Array): void {
  try {
    decodeMessage(bytes);
  } catch (err) {
    if (!(err instanceof ProtoError)) throw err;
  }
}

/** A header that is right for `body`, so the fuzzing reaches the body decoders. */
function withHeader(type: number, body: Uint8Array, xid = 1): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, 4);
  v.setUint8(1, type);
  v.setUint16(2, Math.min(out.length, 0xffff));
  v.setUint32(4, xid);
  out.set(body, 8);
  return out;
}

const messageTypes = Object.values(OFPT);

describe("decoder robustness", () => {
  it("random bytes give a message or a ProtoError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => decodesOrProtoError(b)),
      { numRuns: 3000 },
    );
  });

  it("random bodies under a valid header, for every message type, give a message or a ProtoError", () => {
    fc.assert(
      fc.property(fc.constantFrom(...messageTypes), fc.uint8Array({ maxLength: 400 }), (type, body) =>
        decodesOrProtoError(withHeader(type, body)),
      ),
      { numRuns: 5000 },
    );
  });

  it("mutations of every valid sample message give a message or a ProtoError", () => {
    const encoded = sampleMessages().map(encodeMessage);
    fc.assert(
      fc.property(
        fc.constantFrom(...encoded),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (original, flips, cut) => {
          const b = original.slice();
          for (const [at, value] of flips) b[8 + (at % Math.max(1, b.length - 8))] = value;
          decodesOrProtoError(b);
          // A truncated copy with a header claiming its own (shorter) length.
          const short = b.slice(0, 8 + (cut % Math.max(1, b.length - 7)));
          new DataView(short.buffer).setUint16(2, short.length);
          decodesOrProtoError(short);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("the framer gives messages or a ProtoError on any stream", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 10 }), (chunks) => {
        const framer = new MessageFramer();
        try {
          for (const c of chunks) for (const m of framer.push(c)) decodesOrProtoError(m);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtoError);
        }
      }),
    );
  });
});
