import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, ProtoError } from "../../proto/index.ts";
import { arbControlMessage } from "./control-arbitraries.ts";

describe("control messages, generated", () => {
  it("decode(encode(m)) equals m, and encoding again gives the same bytes", () => {
    fc.assert(
      fc.property(arbControlMessage, (m) => {
        const bytes = encodeMessage(m);
        const back = decodeMessage(bytes);
        expect(back).toEqual(m);
        expect(Buffer.from(encodeMessage(back)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("every truncation, and random byte flips, give a message or a ProtoError", () => {
    fc.assert(
      fc.property(
        arbControlMessage,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (m, cut, flips) => {
          const b = encodeMessage(m).slice();
          for (const [at, v] of flips) b[8 + (at % Math.max(1, b.length - 8))] = v;
          const short = b.slice(0, 8 + (cut % Math.max(1, b.length - 7)));
          new DataView(short.buffer).setUint16(2, short.length);
          for (const input of [b, short]) {
            try {
              decodeMessage(input);
            } catch (err) {
              if (!(err instanceof ProtoError)) throw err;
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
