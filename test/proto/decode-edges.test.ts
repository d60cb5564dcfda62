import { describe, expect, it } from "vitest";
import { decodeHeader, decodeMessage, encodeMessage, MessageFramer, ProtoError } from "../../proto/index.ts";
import { Reader } from "../../proto/wire/reader.ts";
import { unhex } from "./helpers.ts";

// What decodes a switch's bytes, at its edges (bytes from the network: every refusal names what
// and where, and nothing reads past its window).
// Equivalent mutants, left alive on purpose: the framer copying an empty `pending` (`> 0` as
// `>= 0` or true) or slicing an empty tail instead of a new empty array; encodeMessage without
// its `finally` (the spare writer is then never reused: slower, same bytes). decodeMessage's
// wrapping of a non-ProtoError (a decoder bug) is reached by no input we know: that is its point.

function refusal(fn: () => unknown): ProtoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtoError);
    return err as ProtoError;
  }
  throw new Error("expected a ProtoError");
}

describe("the reader", () => {
  it("reads big-endian fields in order and knows what is left", () => {
    const r = new Reader(unhex("01 0203 04050607 08090a0b0c0d0e0f 10"));
    expect([r.u8(), r.u16(), r.u32(), r.u64()]).toEqual([1, 0x0203, 0x04050607, 0x08090a0b0c0d0e0fn]);
    expect([r.offset, r.remaining, r.atEnd]).toEqual([15, 1, false]);
    expect(r.u8()).toBe(0x10);
    expect([r.remaining, r.atEnd]).toEqual([0, true]);
  });

  it.each([
    ["u8", (r: Reader) => r.u8(), 1],
    ["u16", (r: Reader) => r.u16(), 2],
    ["u32", (r: Reader) => r.u32(), 4],
    ["u64", (r: Reader) => r.u64(), 8],
  ] as const)("refuses a %s past its window, naming the field, need and what is left", (what, read, n) => {
    const r = new Reader(new Uint8Array(16), 3, 3 + n - 1);
    const err = refusal(() => read(r));
    expect(err).toMatchObject({ code: "TRUNCATED", offset: 3 });
    expect(err.detail).toBe(`${what}: needs ${n} bytes, ${n - 1} left`);
    // Exactly enough is fine.
    expect(() => read(new Reader(new Uint8Array(16), 3, 3 + n))).not.toThrow();
  });

  it("copies bytes (no alias of the receive buffer), skips, and refuses past the end", () => {
    const bytes = unhex("0102030405");
    const r = new Reader(bytes, 1);
    const copy = r.bytesCopy(2, "data");
    bytes[1] = 0xff;
    expect([...copy]).toEqual([2, 3]);
    r.skip(1);
    expect(r.offset).toBe(4);
    expect(refusal(() => r.skip(2)).detail).toBe("padding: needs 2 bytes, 1 left");
    expect(refusal(() => r.bytesCopy(2)).detail).toBe("bytes: needs 2 bytes, 1 left");
    expect([...r.rest()]).toEqual([5]);
    expect(r.rest()).toEqual(new Uint8Array(0));
  });

  it("reads a NUL-padded string up to its first NUL, and always moves past the whole field", () => {
    const r = new Reader(new Uint8Array([0x65, 0x74, 0x68, 0x30, 0, 0x78, 0, 0, 0x41, 0x42]));
    expect(r.fixedString(8)).toBe("eth0");
    expect(r.offset).toBe(8);
    expect(r.fixedString(2)).toBe("AB");
    expect(refusal(() => new Reader(new Uint8Array(3)).fixedString(4)).detail).toBe(
      "string: needs 4 bytes, 3 left",
    );
  });

  it("peeks without moving, and refuses a peek past the end", () => {
    const r = new Reader(unhex("00 0a0b 0c"), 1);
    expect(r.peekU16()).toBe(0x0a0b);
    expect(r.peekU16(1)).toBe(0x0b0c);
    expect(r.offset).toBe(1);
    const err = refusal(() => r.peekU16(2));
    expect(err).toMatchObject({ code: "TRUNCATED", offset: 1 });
    expect(err.detail).toBe("u16: needs 4 bytes, 3 left");
    expect(new Reader(unhex("0102")).peekU16()).toBe(0x0102);
  });

  it("gives a sub-reader its window only, with absolute offsets", () => {
    const r = new Reader(unhex("aa bbcc dd"));
    r.u8();
    const sub = r.sub(2);
    expect(r.offset).toBe(3);
    expect(sub.offset).toBe(1);
    expect(sub.remaining).toBe(2);
    expect(sub.u16()).toBe(0xbbcc);
    expect(refusal(() => sub.u8()).offset).toBe(3);
    expect(refusal(() => r.sub(2)).detail).toBe("element: needs 2 bytes, 1 left");
  });
});

describe("decoding a message", () => {
  it("reads the header, and refuses fewer than 8 bytes", () => {
    expect(decodeHeader(unhex("04 02 0010 0000002a"))).toEqual({ version: 4, type: 2, length: 16, xid: 42 });
    const err = refusal(() => decodeHeader(unhex("04 02 0010 000000")));
    expect(err.detail).toBe("OpenFlow header needs 8 bytes, got 7");
    expect(err.code).toBe("TRUNCATED");
  });

  it("refuses a header length that is not the message's, other versions, unknown types, trailing bytes", () => {
    const cases: [string, string, string, number][] = [
      ["0414000900000001", "BAD_LENGTH", "header length 9 but message has 8 bytes", 2],
      ["0514000800000001", "BAD_VERSION", "version 0x5 is not OpenFlow 1.3 (0x04)", 0],
      ["04c8000800000001", "BAD_TYPE", "unknown message type 200", 1],
      ["0414000a00000001 0000", "BAD_LENGTH", "2 unexpected trailing bytes", 8],
    ];
    for (const [hex, code, detail, offset] of cases) {
      const err = refusal(() => decodeMessage(unhex(hex)));
      expect({ code: err.code, detail: err.detail, offset: err.offset }, hex).toEqual({
        code,
        detail,
        offset,
      });
    }
  });

  it("reads an ERROR of another version (to report it), but no other message", () => {
    const m = decodeMessage(unhex("0101000c00000007 00000000"));
    expect(m).toMatchObject({ type: "ERROR", xid: 7 });
    expect(refusal(() => decodeMessage(unhex("0102000800000001"))).code).toBe("BAD_VERSION");
  });
});

describe("encoding a message", () => {
  it("keeps the version of a HELLO or an ERROR it is given, and writes 1.3 for the rest", () => {
    expect(encodeMessage({ type: "HELLO", xid: 1, version: 6, elements: [] })[0]).toBe(6);
    expect(encodeMessage({ type: "HELLO", xid: 1, elements: [] })[0]).toBe(4);
    expect(encodeMessage({ type: "BARRIER_REQUEST", xid: 1 })[0]).toBe(4);
    // A version on another message (an object from JSON, say) is not ours to write.
    expect(encodeMessage({ type: "BARRIER_REQUEST", xid: 1, version: 6 } as never)[0]).toBe(4);
  });

  it("names the header field a value does not fit", () => {
    expect(refusal(() => encodeMessage({ type: "BARRIER_REQUEST", xid: 2 ** 32 })).detail).toMatch(/^xid\b/);
    expect(
      refusal(() => encodeMessage({ type: "HELLO", xid: 1, version: 256, elements: [] })).detail,
    ).toMatch(/^version\b/);
  });

  it("refuses an unknown type, a malformed object and a message over 65,535 bytes, naming it", () => {
    const unknown = refusal(() => encodeMessage({ type: "NOPE", xid: 1 } as never));
    expect([unknown.code, unknown.detail]).toEqual(["BAD_TYPE", "unknown message type 'NOPE'"]);
    const malformed = refusal(() => encodeMessage({ type: "ECHO_REQUEST", xid: 1 } as never));
    expect(malformed.code).toBe("BAD_VALUE");
    expect(malformed.detail).toMatch(/^ECHO_REQUEST: malformed message object \(/);
    const long = refusal(() => encodeMessage({ type: "ECHO_REQUEST", xid: 1, data: new Uint8Array(65_528) }));
    expect([long.code, long.detail]).toEqual(["TOO_LONG", "ECHO_REQUEST would be 65536 bytes, over 65535"]);
    expect(encodeMessage({ type: "ECHO_REQUEST", xid: 1, data: new Uint8Array(65_527) })).toHaveLength(
      65_535,
    );
  });

  it("encodes a message inside another with a writer of its own (the spare one is in use)", () => {
    const inner = { type: "BARRIER_REQUEST", xid: 9 } as const;
    const m = encodeMessage({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 9,
      bundleId: 1,
      flags: 1,
      message: inner,
      properties: new Uint8Array(0),
    });
    expect(decodeMessage(m)).toMatchObject({ type: "BUNDLE_ADD_MESSAGE", message: inner });
    expect(decodeMessage(encodeMessage(inner))).toEqual(inner);
  });
});

describe("the framer", () => {
  it("takes versions 1 to 6 and refuses 7, with the byte offset in the stream", () => {
    for (const v of [1, 6])
      expect(new MessageFramer().push(new Uint8Array([v, 0, 0, 8, 0, 0, 0, 1]))).toHaveLength(1);
    const framer = new MessageFramer();
    framer.push(new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1]));
    const err = refusal(() => framer.push(new Uint8Array([7, 0, 0, 8, 0, 0, 0, 1])));
    expect([err.code, err.offset, err.detail]).toEqual([
      "BAD_VERSION",
      8,
      "not an OpenFlow header: version byte 0x7",
    ]);
    const short = new MessageFramer();
    short.push(new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1]));
    const sameChunk = refusal(() =>
      new MessageFramer().push(new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1, 9, 0, 0, 8, 0, 0, 0, 2])),
    );
    expect([sameChunk.code, sameChunk.offset]).toEqual(["BAD_VERSION", 8]);
    const shortInChunk = refusal(() =>
      new MessageFramer().push(new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1, 4, 0, 0, 7, 0, 0, 0, 2])),
    );
    expect([shortInChunk.code, shortInChunk.offset]).toEqual(["BAD_LENGTH", 10]);
    const tooShort = refusal(() => short.push(new Uint8Array([4, 0, 0, 7, 0, 0, 0, 1])));
    expect([tooShort.code, tooShort.offset]).toEqual(["BAD_LENGTH", 10]);
  });

  it("keeps the tail of a chunk after whole messages, and nothing once all are out", () => {
    const framer = new MessageFramer();
    const two = new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1, 4, 0, 0, 9, 0]);
    expect(framer.push(two)).toHaveLength(1);
    expect(framer.buffered).toBe(5);
    expect(framer.push(new Uint8Array([0, 0, 2, 0xee]))).toEqual([
      new Uint8Array([4, 0, 0, 9, 0, 0, 0, 2, 0xee]),
    ]);
    expect(framer.buffered).toBe(0);
  });
});
