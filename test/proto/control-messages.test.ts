import { describe, expect, it } from "vitest";
import {
  decodeMessage,
  describeError,
  encodeMessage,
  OFPBF,
  OFPBRC,
  OFPET,
  OFPFMFC,
  OFPHFC,
  OFPP,
  OFPPC,
  OFPPF,
  OFPPS,
  type OfpMessage,
  type OfpPort,
} from "../../proto/index.ts";
import { flowMod, hex, protoErrorOf, roundTrip, unhex } from "./helpers.ts";
import { expectOvsDecodes } from "./ovs-oracle.ts";

const enc0: OfpPort = {
  portNo: 1,
  hwAddr: "02:00:0a:00:00:01",
  name: "enc0",
  config: OFPPC.NO_PACKET_IN,
  state: OFPPS.LIVE,
  curr: OFPPF["10GB_FD"] | OFPPF.FIBER,
  advertised: 0,
  supported: OFPPF["1GB_FD"] | OFPPF["10GB_FD"],
  peer: 0,
  currSpeed: 10_000_000,
  maxSpeed: 25_000_000,
};
const local: OfpPort = { ...enc0, portNo: OFPP.LOCAL, hwAddr: "aa:bb:cc:dd:ee:ff", name: "icbr0", config: 0 };

describe("ERROR", () => {
  it("carries type, code and the failed request, which OVS decodes too", () => {
    const failed = encodeMessage({ type: "BARRIER_REQUEST", xid: 1 });
    const bytes = roundTrip({
      type: "ERROR",
      xid: 1,
      errorType: OFPET.BAD_REQUEST,
      code: OFPBRC.BAD_LEN,
      data: failed,
    });
    expect(hex(bytes)).toBe("0401001400000001 00010006 0414000800000001".replace(/ /g, ""));
    expectOvsDecodes(bytes, "OFPT_ERROR (OF1.3) (xid=0x1): OFPBRC_BAD_LEN", "OFPT_BARRIER_REQUEST");
  });

  it("HELLO_FAILED carries text", () => {
    const bytes = roundTrip({
      type: "ERROR",
      xid: 2,
      errorType: OFPET.HELLO_FAILED,
      code: OFPHFC.EPERM,
      data: new TextEncoder().encode("we speak 1.3 only"),
    });
    expectOvsDecodes(bytes, "OFPHFC_EPERM", "we speak 1.3 only");
  });

  it("reads an ERROR in another version and keeps the version, to answer in it", () => {
    const m = decodeMessage(unhex("0101000c00000009 0000 0001"));
    expect(m).toEqual({ type: "ERROR", xid: 9, version: 1, errorType: 0, code: 1, data: new Uint8Array(0) });
    expect(hex(encodeMessage(m))).toBe("0101000c0000000900000001");
    expectOvsDecodes(encodeMessage(m), "OFPT_ERROR (xid=0x9): OFPHFC_EPERM");
    // 1.0 numbers are not named with the 1.3 tables.
    expect(
      describeError({ type: "ERROR", xid: 1, version: 1, errorType: 3, code: 0, data: new Uint8Array() }),
    ).toBe("type 3/code 0");
  });

  it("keeps unknown types and codes as numbers", () => {
    const m: OfpMessage = { type: "ERROR", xid: 3, errorType: 42, code: 777, data: new Uint8Array([1]) };
    roundTrip(m);
    expect(describeError(m)).toBe("type 42/code 777");
  });

  it("experimenter form: ONF bundle errors as OVS sends them in 1.3", () => {
    const m: OfpMessage = {
      type: "ERROR",
      xid: 4,
      errorType: OFPET.EXPERIMENTER,
      expType: 2310,
      experimenter: 0x4f4e4600,
      data: encodeMessage({ type: "BARRIER_REQUEST", xid: 4 }),
    };
    const bytes = roundTrip(m);
    expect(hex(bytes.subarray(8, 16))).toBe("ffff09064f4e4600");
    expectOvsDecodes(bytes, "OFPT_ERROR (OF1.3) (xid=0x4): OFPBFC_MSG_UNSUP");
    expect(describeError(m)).toBe("EXPERIMENTER 0x4f4e4600/MSG_UNSUP");
  });

  it("describes standard errors by name", () => {
    expect(
      describeError({
        type: "ERROR",
        xid: 1,
        errorType: OFPET.FLOW_MOD_FAILED,
        code: OFPFMFC.OVERLAP,
        data: new Uint8Array(),
      }),
    ).toBe("FLOW_MOD_FAILED/OVERLAP");
  });
});

describe("EXPERIMENTER and ONF bundles", () => {
  it("an experimenter message we do not model keeps its bytes; OVS knows this Nicira one", () => {
    const bytes = roundTrip({
      type: "EXPERIMENTER",
      xid: 5,
      experimenter: 0x00002320,
      expType: 20, // NXT_SET_CONTROLLER_ID: 6 bytes pad, u16 id
      data: unhex("000000000000 0007"),
    });
    expectOvsDecodes(bytes, "NXT_SET_CONTROLLER_ID (OF1.3) (xid=0x5): id=7");
  });

  it.each([
    ["OPEN_REQUEST", OFPBF.ATOMIC | OFPBF.ORDERED, "type=OPEN_REQUEST flags=atomic ordered"],
    ["OPEN_REPLY", 0, "type=OPEN_REPLY"],
    ["CLOSE_REQUEST", 0, "type=CLOSE_REQUEST"],
    ["CLOSE_REPLY", 0, "type=CLOSE_REPLY"],
    ["COMMIT_REQUEST", OFPBF.ATOMIC, "type=COMMIT_REQUEST flags=atomic"],
    ["COMMIT_REPLY", 0, "type=COMMIT_REPLY"],
    ["DISCARD_REQUEST", 0, "type=DISCARD_REQUEST"],
    ["DISCARD_REPLY", 0, "type=DISCARD_REPLY"],
  ] as const)("bundle control %s", (ctrlType, flags, text) => {
    const bytes = roundTrip({
      type: "BUNDLE_CONTROL",
      xid: 6,
      bundleId: 0x10,
      ctrlType,
      flags,
      properties: new Uint8Array(0),
    });
    expect(bytes.length).toBe(24);
    expectOvsDecodes(bytes, "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x6):", `bundle_id=0x10 ${text}`);
  });

  it("bundle control keeps its properties", () => {
    roundTrip({
      type: "BUNDLE_CONTROL",
      xid: 6,
      bundleId: 1,
      ctrlType: "OPEN_REQUEST",
      flags: OFPBF.ORDERED,
      properties: unhex("ffff000c 00002320 00000001 00000000"),
    });
  });

  it("bundle add carries a whole PORT_MOD that OVS decodes inside it", () => {
    const bytes = roundTrip({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 7,
      bundleId: 0x10,
      flags: OFPBF.ATOMIC,
      message: {
        type: "PORT_MOD",
        xid: 7,
        portNo: 1,
        hwAddr: enc0.hwAddr,
        config: OFPPC.PORT_DOWN,
        mask: OFPPC.PORT_DOWN | OFPPC.NO_FWD,
        advertise: 0,
      },
      properties: new Uint8Array(0),
    });
    expect(hex(bytes.subarray(0, 24))).toBe("04040040000000074f4e4600000008fd0000001000000001");
    expectOvsDecodes(
      bytes,
      "ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0x7):",
      "bundle_id=0x10 flags=atomic",
      "OFPT_PORT_MOD (OF1.3) (xid=0x7): port: 1: addr:02:00:0a:00:00:01",
      "mask:   PORT_DOWN NO_FWD",
    );
  });

  it("bundle add carries a FLOW_MOD (what the controller bundles), which OVS decodes inside it", () => {
    const bytes = roundTrip({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 0x20,
      bundleId: 3,
      flags: OFPBF.ATOMIC | OFPBF.ORDERED,
      message: flowMod(0x20, {
        cookie: 0x1cn,
        match: [
          { field: "IN_PORT", value: 1 },
          { field: "ETH_TYPE", value: 0x0800 },
          { field: "IPV4_DST", value: "10.0.0.2" },
        ],
        instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: 2, maxLen: 0 }] }],
      }),
      properties: new Uint8Array(0),
    });
    expectOvsDecodes(
      bytes,
      "ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0x20):",
      "bundle_id=0x3 flags=atomic ordered",
      /OFPT_FLOW_MOD \(OF1.3\) \(xid=0x20\): ADD priority=100,ip,in_port=1,nw_dst=10.0.0.2 cookie:0x1c actions=output:2/,
    );
  });

  it("bundle add pads its message to 8 bytes only before properties", () => {
    const inner: OfpMessage = { type: "ECHO_REQUEST", xid: 8, data: new Uint8Array([1, 2, 3]) };
    const bare = roundTrip({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 8,
      bundleId: 1,
      flags: 0,
      message: inner,
      properties: new Uint8Array(0),
    });
    expect(bare.length).toBe(24 + 11);
    const withProps = roundTrip({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 8,
      bundleId: 1,
      flags: 0,
      message: inner,
      properties: unhex("ffff0008 00002320"),
    });
    expect(withProps.length).toBe(24 + 16 + 8);
    expect(hex(withProps.subarray(35, 40))).toBe("0000000000");
  });

  it("refuses to encode a bundle add whose xid differs from its message's", () => {
    const err = protoErrorOf(() =>
      encodeMessage({
        type: "BUNDLE_ADD_MESSAGE",
        xid: 1,
        bundleId: 1,
        flags: 0,
        message: { type: "BARRIER_REQUEST", xid: 2 },
        properties: new Uint8Array(0),
      }),
    );
    expect(err.code).toBe("BAD_VALUE");
  });

  it("refuses an EXPERIMENTER that would decode as a bundle message", () => {
    const err = protoErrorOf(() =>
      encodeMessage({
        type: "EXPERIMENTER",
        xid: 1,
        experimenter: 0x4f4e4600,
        expType: 2300,
        data: new Uint8Array(8),
      }),
    );
    expect(err.code).toBe("BAD_VALUE");
  });
});

describe("switch config", () => {
  it("get config request and reply, set config", () => {
    expectOvsDecodes(roundTrip({ type: "GET_CONFIG_REQUEST", xid: 1 }), "OFPT_GET_CONFIG_REQUEST (OF1.3)");
    expectOvsDecodes(
      roundTrip({ type: "GET_CONFIG_REPLY", xid: 1, flags: 0, missSendLen: 128 }),
      "OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x1): frags=normal miss_send_len=128",
    );
    const set = roundTrip({ type: "SET_CONFIG", xid: 2, flags: 2, missSendLen: 0xffff });
    expect(hex(set)).toBe("0409000c000000020002ffff");
    expectOvsDecodes(set, "OFPT_SET_CONFIG (OF1.3) (xid=0x2): frags=reassemble miss_send_len=65535");
  });
});

describe("ports", () => {
  it.each([
    ["ADD", "ADD"],
    ["DELETE", "DEL"],
    ["MODIFY", "MOD"],
  ] as const)("port status %s", (reason, ovsReason) => {
    const bytes = roundTrip({ type: "PORT_STATUS", xid: 0, reason, desc: enc0 });
    expect(bytes.length).toBe(80);
    expectOvsDecodes(
      bytes,
      `OFPT_PORT_STATUS (OF1.3) (xid=0x0): ${ovsReason}: 1(enc0): addr:02:00:0a:00:00:01`,
      /config:\s+NO_PACKET_IN/,
      /state:\s+LIVE/,
      /current:\s+10GB-FD FIBER/,
      /supported:\s+1GB-FD 10GB-FD/,
      "speed: 10000 Mbps now, 25000 Mbps max",
    );
  });

  it("reads a MAC address in any case and gives it back in lower case", () => {
    const m = decodeMessage(
      encodeMessage({
        type: "PORT_STATUS",
        xid: 0,
        reason: "ADD",
        desc: { ...enc0, hwAddr: "02:00:0A:00:00:01" },
      }),
    );
    expect(m.type === "PORT_STATUS" && m.desc.hwAddr).toBe("02:00:0a:00:00:01");
  });

  it("port mod", () => {
    const bytes = roundTrip({
      type: "PORT_MOD",
      xid: 3,
      portNo: 1,
      hwAddr: enc0.hwAddr,
      config: OFPPC.NO_RECV | OFPPC.NO_FWD,
      mask: OFPPC.NO_RECV | OFPPC.NO_FWD | OFPPC.PORT_DOWN,
      advertise: OFPPF["10GB_FD"],
    });
    expect(bytes.length).toBe(40);
    expectOvsDecodes(
      bytes,
      "OFPT_PORT_MOD (OF1.3) (xid=0x3): port: 1: addr:02:00:0a:00:00:01",
      "config: NO_RECV NO_FWD",
      "mask:   PORT_DOWN NO_RECV NO_FWD",
      "advertise: 10GB-FD",
    );
  });

  it("table mod", () => {
    const bytes = roundTrip({ type: "TABLE_MOD", xid: 4, tableId: 0xff, config: 3 });
    expect(hex(bytes)).toBe("0411001000000004ff00000000000003");
    expectOvsDecodes(bytes, "OFPT_TABLE_MOD (OF1.3) (xid=0x4): table_id: ALL_TABLES");
    expectOvsDecodes(roundTrip({ type: "TABLE_MOD", xid: 4, tableId: 3, config: 0 }), "table_id=3");
  });
});

describe("ROLE and ASYNC", () => {
  it.each([
    ["MASTER", "role=primary generation_id=5"],
    ["SLAVE", "role=secondary generation_id=5"],
    ["EQUAL", "role=equal"],
    ["NOCHANGE", "role=nochange"],
  ] as const)("role request %s", (role, text) => {
    const bytes = roundTrip({ type: "ROLE_REQUEST", xid: 1, role, generationId: 5n });
    expectOvsDecodes(bytes, `OFPT_ROLE_REQUEST (OF1.3) (xid=0x1): ${text}`);
  });

  it("role reply keeps a 64-bit generation id", () => {
    const bytes = roundTrip({
      type: "ROLE_REPLY",
      xid: 2,
      role: "MASTER",
      generationId: 0xfedcba9876543210n,
    });
    expect(hex(bytes.subarray(16))).toBe("fedcba9876543210");
    expectOvsDecodes(
      bytes,
      "OFPT_ROLE_REPLY (OF1.3) (xid=0x2): role=primary generation_id=18364758544493064720",
    );
  });

  it("get async request and reply, set async", () => {
    expectOvsDecodes(roundTrip({ type: "GET_ASYNC_REQUEST", xid: 1 }), "OFPT_GET_ASYNC_REQUEST (OF1.3)");
    const reply = roundTrip({
      type: "GET_ASYNC_REPLY",
      xid: 1,
      packetInMask: [0b011, 0],
      portStatusMask: [0b111, 0b101],
      flowRemovedMask: [0b1111, 0b1],
    });
    const text = expectOvsDecodes(reply, "OFPT_GET_ASYNC_REPLY (OF1.3)");
    expect(text).toMatch(
      /primary:\s+PACKET_IN: no_match action\s+PORT_STATUS: add delete modify\s+FLOW_REMOVED: idle hard delete group_delete/,
    );
    expect(text).toMatch(/secondary:\s+PACKET_IN: \(off\)\s+PORT_STATUS: add modify\s+FLOW_REMOVED: idle\n/);
    const set = roundTrip({
      type: "SET_ASYNC",
      xid: 2,
      packetInMask: [1, 0b10],
      portStatusMask: [0b100, 0b1],
      flowRemovedMask: [0b10, 0b1000],
    });
    expect(set.length).toBe(32);
    const setText = expectOvsDecodes(set, "OFPT_SET_ASYNC (OF1.3)");
    expect(setText).toMatch(/primary:\s+PACKET_IN: no_match\s+PORT_STATUS: modify\s+FLOW_REMOVED: hard\n/);
    expect(setText).toMatch(
      /secondary:\s+PACKET_IN: action\s+PORT_STATUS: add\s+FLOW_REMOVED: group_delete\n/,
    );
  });
});

describe("MULTIPART TABLE, PORT_STATS, PORT_DESC", () => {
  it("table stats", () => {
    expectOvsDecodes(
      roundTrip({ type: "MULTIPART_REQUEST", xid: 1, flags: 0, body: { kind: "TABLE" } }),
      "OFPST_TABLE request (OF1.3) (xid=0x1)",
    );
    const reply = roundTrip({
      type: "MULTIPART_REPLY",
      xid: 1,
      flags: 0,
      body: {
        kind: "TABLE",
        tables: [
          { tableId: 0, activeCount: 3, lookupCount: 100n, matchedCount: 90n },
          { tableId: 1, activeCount: 0, lookupCount: 2n ** 40n, matchedCount: 0n },
        ],
      },
    });
    expectOvsDecodes(
      reply,
      "OFPST_TABLE reply (OF1.3)",
      /table 0:\s+active=3, lookup=100, matched=90/,
      /table 1:\s+active=0, lookup=1099511627776, matched=0/,
    );
  });

  it("port stats", () => {
    expectOvsDecodes(
      roundTrip({
        type: "MULTIPART_REQUEST",
        xid: 2,
        flags: 0,
        body: { kind: "PORT_STATS", portNo: OFPP.ANY },
      }),
      "OFPST_PORT request (OF1.3) (xid=0x2): port_no=ANY",
    );
    expectOvsDecodes(
      roundTrip({ type: "MULTIPART_REQUEST", xid: 2, flags: 0, body: { kind: "PORT_STATS", portNo: 3 } }),
      "port_no=3",
    );
    const reply = roundTrip({
      type: "MULTIPART_REPLY",
      xid: 2,
      flags: 0,
      body: {
        kind: "PORT_STATS",
        ports: [
          {
            portNo: 1,
            rxPackets: 1n,
            txPackets: 2n,
            rxBytes: 3n,
            txBytes: 4n,
            rxDropped: 5n,
            txDropped: 6n,
            rxErrors: 7n,
            txErrors: 8n,
            rxFrameErr: 9n,
            rxOverErr: 10n,
            rxCrcErr: 11n,
            collisions: 12n,
            durationSec: 13,
            durationNsec: 14,
          },
        ],
      },
    });
    expect(reply.length).toBe(16 + 112);
    expectOvsDecodes(
      reply,
      "OFPST_PORT reply (OF1.3) (xid=0x2): 1 ports",
      "port  1: rx pkts=1, bytes=3, drop=5, errs=7, frame=9, over=10, crc=11",
      "tx pkts=2, bytes=4, drop=6, errs=8, coll=12",
      "duration=13.000000014s",
    );
  });

  it("port desc", () => {
    expectOvsDecodes(
      roundTrip({ type: "MULTIPART_REQUEST", xid: 3, flags: 0, body: { kind: "PORT_DESC" } }),
      "OFPST_PORT_DESC request (OF1.3) (xid=0x3)",
    );
    const reply = roundTrip({
      type: "MULTIPART_REPLY",
      xid: 3,
      flags: 0,
      body: { kind: "PORT_DESC", ports: [enc0, local] },
    });
    expect(reply.length).toBe(16 + 2 * 64);
    expectOvsDecodes(
      reply,
      "OFPST_PORT_DESC reply (OF1.3) (xid=0x3)",
      " 1(enc0): addr:02:00:0a:00:00:01",
      " LOCAL(icbr0): addr:aa:bb:cc:dd:ee:ff",
    );
    roundTrip({ type: "MULTIPART_REPLY", xid: 3, flags: 0, body: { kind: "PORT_DESC", ports: [] } });
  });
});

describe("bad input", () => {
  const port = hex(encodeMessage({ type: "PORT_STATUS", xid: 0, reason: "ADD", desc: enc0 })).slice(32);
  const withLength = (h: string) => {
    const b = unhex(h);
    new DataView(b.buffer).setUint16(2, b.length);
    return b;
  };

  it.each([
    ["an ERROR shorter than 12 bytes", "TRUNCATED", "0401000a00000001 0001"],
    ["an ERROR with only a type", "TRUNCATED", "0401000a00000001 ffff"],
    ["an experimenter ERROR shorter than 16 bytes", "TRUNCATED", "0401000e00000001 ffff 0906 4f4e"],
    [
      "a truncated port in PORT_STATUS",
      "TRUNCATED",
      `040c0000 00000000 00000000 00000000 ${port.slice(0, 80)}`,
    ],
    [
      "a PORT_DESC reply with a partial second port",
      "TRUNCATED",
      `04130000 00000001 000d0000 00000000 ${port} ${port.slice(0, 40)}`,
    ],
    ["a PORT_STATS reply with a partial entry", "TRUNCATED", "04130000 00000001 00040000 00000000 00000001"],
    ["a PORT_STATUS with an unknown reason", "BAD_VALUE", `040c0000 00000000 03000000 00000000 ${port}`],
    [
      "a ROLE_REQUEST with an unknown role",
      "BAD_VALUE",
      "04180000 00000001 00000004 00000000 0000000000000000",
    ],
    [
      "a bundle control with an unknown type",
      "BAD_VALUE",
      "04040000 00000001 4f4e4600 000008fc 00000001 0008 0000",
    ],
    [
      "a bundle add whose message length overruns it",
      "BAD_LENGTH",
      "04040000 00000001 4f4e4600 000008fd 00000001 0000 0000 0414 0010 00000001",
    ],
    [
      "a bundle add whose message length is under a header",
      "BAD_LENGTH",
      "04040000 00000001 4f4e4600 000008fd 00000001 0000 0000 0414 0004 00000001",
    ],
    ["a bundle add without a message", "TRUNCATED", "04040000 00000001 4f4e4600 000008fd 00000001 0000 0000"],
    [
      "a bundle add whose message is not OpenFlow 1.3",
      "BAD_VERSION",
      "04040000 00000001 4f4e4600 000008fd 00000001 0000 0000 0114 0008 00000001",
    ],
    ["a TABLE stats request with a body", "BAD_LENGTH", "04120000 00000001 00030000 00000000 00000000"],
    ["a SET_CONFIG with a short body", "TRUNCATED", "04090000 00000001 0000"],
  ])("%s gives ProtoError %s", (_name, code, input) => {
    expect(protoErrorOf(() => decodeMessage(withLength(input))).code).toBe(code);
  });

  it("points at the bundled message's length field when it overruns", () => {
    const err = protoErrorOf(() =>
      decodeMessage(withLength("04040000 00000001 4f4e4600 000008fd 00000001 0000 0000 0414 0010 00000001")),
    );
    expect(err.offset).toBe(26);
  });

  it("counts offsets of errors inside the bundled message from the start of the outer one", () => {
    // The inner BARRIER_REQUEST starts at byte 24 and has one trailing byte at its byte 8.
    const err = protoErrorOf(() =>
      decodeMessage(
        withLength("04040000 00000001 4f4e4600 000008fd 00000001 0000 0000 0414 0009 00000001 ff"),
      ),
    );
    expect(err.code).toBe("BAD_LENGTH");
    expect(err.offset).toBe(32);
  });

  it("refuses to encode values that do not fit", () => {
    const bad: [OfpMessage, RegExp][] = [
      [{ type: "PORT_STATUS", xid: 0, reason: "ADD", desc: { ...enc0, hwAddr: "02:00:0a:00:00" } }, /hwAddr/],
      [
        { type: "PORT_STATUS", xid: 0, reason: "ADD", desc: { ...enc0, name: "a-very-long-port-name" } },
        /name/,
      ],
      [{ type: "PORT_MOD", xid: 0, portNo: 1, hwAddr: "zz", config: 0, mask: 0, advertise: 0 }, /hwAddr/],
      [{ type: "TABLE_MOD", xid: 0, tableId: 256, config: 0 }, /tableId/],
      [{ type: "ROLE_REQUEST", xid: 0, role: "MASTER", generationId: -1n }, /generationId/],
      [{ type: "ERROR", xid: 0, errorType: 0xffff, code: 0, data: new Uint8Array() }, /EXPERIMENTER/],
      [
        {
          type: "SET_ASYNC",
          xid: 0,
          packetInMask: [2 ** 32, 0],
          portStatusMask: [0, 0],
          flowRemovedMask: [0, 0],
        },
        /packetInMask\[0\]/,
      ],
    ];
    for (const [m, what] of bad) {
      const err = protoErrorOf(() => encodeMessage(m));
      expect(err.code).toBe("BAD_VALUE");
      expect(err.message).toMatch(what);
    }
  });
});
