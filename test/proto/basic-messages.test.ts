import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, ProtoError } from "../../proto/index.ts";
import { hex, roundTrip, unhex } from "./helpers.ts";
import { expectOvsDecodes } from "./ovs-oracle.ts";

describe("HELLO", () => {
  it("encodes a version bitmap that OVS reads, and round-trips", () => {
    const bytes = roundTrip({
      type: "HELLO",
      xid: 7,
      version: 4,
      elements: [{ kind: "VERSION_BITMAP", versions: [1, 4] }],
    });
    expect(hex(bytes)).toBe("04000010000000070001000800000012");
    expectOvsDecodes(bytes, "OFPT_HELLO (OF1.3) (xid=0x7)", "version bitmap: 0x01, 0x04");
  });

  it("reads a HELLO of another version, for negotiation", () => {
    const m = decodeMessage(unhex("0600001000000001 0001000800000040"));
    expect(m).toEqual({
      type: "HELLO",
      xid: 1,
      version: 6,
      elements: [{ kind: "VERSION_BITMAP", versions: [6] }],
    });
  });

  it("rejects a zero-length hello element instead of looping on it", () => {
    expect(() => decodeMessage(unhex("0400001000000001 0001000000000000"))).toThrow(ProtoError);
    expect(() => decodeMessage(unhex("0400001000000001 0001000000000000"))).toThrow(/element length 0/);
  });
});

describe("ECHO, BARRIER, FEATURES", () => {
  it("echo request and reply carry their data", () => {
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    expectOvsDecodes(
      roundTrip({ type: "ECHO_REQUEST", xid: 1, data }),
      "OFPT_ECHO_REQUEST (OF1.3)",
      "5 bytes of payload",
    );
    expectOvsDecodes(roundTrip({ type: "ECHO_REPLY", xid: 2, data }), "OFPT_ECHO_REPLY (OF1.3)");
  });

  it("barrier request and reply", () => {
    expectOvsDecodes(
      roundTrip({ type: "BARRIER_REQUEST", xid: 0xffffffff }),
      "OFPT_BARRIER_REQUEST (OF1.3) (xid=0xffffffff)",
    );
    expectOvsDecodes(roundTrip({ type: "BARRIER_REPLY", xid: 3 }), "OFPT_BARRIER_REPLY (OF1.3)");
  });

  it("features request and reply", () => {
    expectOvsDecodes(roundTrip({ type: "FEATURES_REQUEST", xid: 9 }), "OFPT_FEATURES_REQUEST (OF1.3)");
    const reply = roundTrip({
      type: "FEATURES_REPLY",
      xid: 9,
      datapathId: 0x0000aabbccddeeffn,
      nBuffers: 0,
      nTables: 254,
      auxiliaryId: 0,
      capabilities: 0x4f,
      reserved: 0,
    });
    expectOvsDecodes(
      reply,
      "dpid:0000aabbccddeeff",
      "n_tables:254",
      "FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS",
    );
  });
});

describe("MULTIPART DESC and unmodelled bodies", () => {
  it("desc request and reply", () => {
    expectOvsDecodes(
      roundTrip({ type: "MULTIPART_REQUEST", xid: 4, flags: 0, body: { kind: "DESC" } }),
      "OFPST_DESC request",
    );
    const reply = roundTrip({
      type: "MULTIPART_REPLY",
      xid: 4,
      flags: 0,
      body: {
        kind: "DESC",
        mfrDesc: "Nicira, Inc.",
        hwDesc: "Open vSwitch",
        swDesc: "3.1.0",
        serialNum: "None",
        dpDesc: "icbr0",
      },
    });
    expectOvsDecodes(reply, "Manufacturer: Nicira, Inc.", "DP Description: icbr0");
  });

  it("carries an unmodelled multipart type as raw bytes", () => {
    roundTrip({
      type: "MULTIPART_REQUEST",
      xid: 1,
      flags: 0,
      body: { kind: "RAW", mpType: 11, data: new Uint8Array(0) },
    });
  });
});

describe("bad input", () => {
  it.each([
    ["short header", "040000", "TRUNCATED"],
    ["length field disagrees", "0402000c00000001", "BAD_LENGTH"],
    ["OpenFlow 1.0 FEATURES_REQUEST", "0105000800000001", "BAD_VERSION"],
    ["unknown type", "04ff000800000001", "BAD_TYPE"],
    ["trailing bytes on a bodiless message", "0414000900000001ff", "BAD_LENGTH"],
    ["truncated features reply", "0406000c0000000100000000", "TRUNCATED"],
  ])("%s gives ProtoError %s", (_name, input, code) => {
    const err = (() => {
      try {
        decodeMessage(unhex(input));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ProtoError);
    expect((err as ProtoError).code).toBe(code);
  });

  it("refuses to encode a value that does not fit its field, naming it", () => {
    expect(() =>
      encodeMessage({
        type: "FEATURES_REPLY",
        xid: 1,
        datapathId: 1n,
        nBuffers: 0,
        nTables: 300,
        auxiliaryId: 0,
        capabilities: 0,
        reserved: 0,
      }),
    ).toThrow(/nTables: 300/);
  });
});
