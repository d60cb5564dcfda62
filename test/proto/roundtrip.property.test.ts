import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage } from "../../proto/index.ts";
import { arbMessage } from "./arbitraries.ts";

describe("round trip", () => {
  it("decode(encode(m)) equals m for generated messages of every type", () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it("encode(decode(bytes)) gives the same bytes", () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const bytes = encodeMessage(m);
        expect(Buffer.from(encodeMessage(decodeMessage(bytes))).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
