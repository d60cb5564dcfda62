import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeMessage, MessageFramer, type OfpMessage, ProtoError } from "../../proto/index.ts";

const sample: OfpMessage[] = [
  { type: "HELLO", xid: 1, elements: [{ kind: "VERSION_BITMAP", versions: [4] }] },
  { type: "ECHO_REQUEST", xid: 2, data: new Uint8Array(300).fill(7) },
  { type: "BARRIER_REQUEST", xid: 3 },
  { type: "FEATURES_REQUEST", xid: 4 },
  { type: "ECHO_REPLY", xid: 5, data: new Uint8Array(0) },
];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("MessageFramer", () => {
  const encoded = sample.map(encodeMessage);
  const stream = concat(encoded);

  it("yields the same whole messages however the stream is chunked", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
          const framer = new MessageFramer();
          const got: Uint8Array[] = [];
          for (let i = 1; i < points.length; i++)
            got.push(...framer.push(stream.subarray(points[i - 1], points[i])));
          expect(got.map((g) => Buffer.from(g).toString("hex"))).toEqual(
            encoded.map((e) => Buffer.from(e).toString("hex")),
          );
          expect(framer.buffered).toBe(0);
        },
      ),
    );
  });

  it("byte-at-a-time and all-at-once agree", () => {
    const framer = new MessageFramer();
    let n = 0;
    for (const b of stream) n += framer.push(new Uint8Array([b])).length;
    expect(n).toBe(sample.length);
    expect(new MessageFramer().push(stream)).toHaveLength(sample.length);
  });

  it("rejects a length under 8 and stays failed, since the stream cannot resynchronise", () => {
    const framer = new MessageFramer();
    expect(() => framer.push(new Uint8Array([4, 0, 0, 4, 0, 0, 0, 1]))).toThrow(/length 4 < 8/);
    expect(() => framer.push(encoded[0]!)).toThrow(ProtoError);
  });

  it("rejects what is not OpenFlow (an HTTP request, version 0)", () => {
    expect(() => new MessageFramer().push(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"))).toThrow(
      /version byte 0x47/,
    );
    expect(() => new MessageFramer().push(new Uint8Array(8))).toThrow(/version byte 0x0/);
  });

  it("holds an incomplete message without yielding it", () => {
    const framer = new MessageFramer();
    expect(framer.push(encoded[1]!.subarray(0, 100))).toEqual([]);
    expect(framer.buffered).toBe(100);
    expect(framer.push(encoded[1]!.subarray(100))).toHaveLength(1);
  });
});
