import { describe, expect, it } from "vitest";
import { encodeBundleAdds, encodeBundleCommit, encodeCommittedBundle } from "../../proto/committed-bundle.ts";
import { decodeMessage, encodeMessage, type FlowMod, ProtoError } from "../../proto/index.ts";

// What makes a rule change atomic on a switch (make-before-break): the committed bundle's
// refusals at their exact bounds, and the bundle and flow-mod codecs naming the field at fault.
// Equivalent mutant, left alive on purpose: the "bundled message" label of decodeBundleAdd's
// bytesCopy (the length was checked against what is left just before; it cannot fail).

function refusal(fn: () => unknown): ProtoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtoError);
    return err as ProtoError;
  }
  throw new Error("expected a ProtoError");
}

const barrier = encodeMessage({ type: "BARRIER_REQUEST", xid: 1 });
const xids = () => {
  let n = 100;
  return () => n++;
};

describe("a committed bundle", () => {
  it("takes a bundle id and flags at their bounds, and refuses one past, in every encoder", () => {
    for (const [id, flags] of [
      [0, 0],
      [0xffff_ffff, 0xffff],
    ] as const) {
      expect(() => encodeCommittedBundle([barrier], id, flags, xids())).not.toThrow();
    }
    const encoders = [
      (id: number, flags: number) => encodeCommittedBundle([barrier], id, flags, xids()),
      (id: number, flags: number) => encodeBundleAdds([barrier], id, flags, xids()),
      (id: number, flags: number) => encodeBundleCommit(id, flags, xids()),
    ];
    for (const encode of encoders) {
      for (const id of [-1, 2 ** 32, 1.5])
        expect(refusal(() => encode(id, 0)).detail).toBe(`bundleId ${id} is not a 32-bit unsigned integer`);
      for (const flags of [-1, 0x1_0000, 0.5])
        expect(refusal(() => encode(1, flags)).detail).toBe(
          `flags ${flags} is not a 16-bit unsigned integer`,
        );
    }
  });

  it("takes a message of exactly a header, and refuses anything shorter or not one whole message", () => {
    expect(encodeBundleAdds([barrier], 1, 0, xids()).bytes).toHaveLength(24 + 8);
    for (const m of [
      new Uint8Array([4]),
      new Uint8Array([4, 0, 0, 4]),
      new Uint8Array([4, 20, 0, 9, 0, 0, 0, 1]),
    ]) {
      const err = refusal(() => encodeBundleAdds([m], 1, 0, xids()));
      expect([err.code, err.detail]).toEqual([
        "BAD_LENGTH",
        `bundled message 0: ${m.length} bytes are not one whole message`,
      ]);
    }
  });

  it("takes the largest message that fits an ADD_MESSAGE, and refuses one byte more", () => {
    const echo = (n: number) => encodeMessage({ type: "ECHO_REQUEST", xid: 1, data: new Uint8Array(n) });
    const largest = echo(65_535 - 24 - 8);
    expect(encodeBundleAdds([largest], 1, 0, xids()).bytes).toHaveLength(65_535);
    const err = refusal(() => encodeBundleAdds([barrier, echo(65_535 - 24 - 7)], 1, 0, xids()));
    expect([err.code, err.detail]).toEqual([
      "TOO_LONG",
      "bundled message 1: 65512 bytes do not fit a BUNDLE_ADD_MESSAGE",
    ]);
  });
});

describe("the bundle messages", () => {
  it("names an unknown control type and where it would go, and an ADD whose xid is not its message's", () => {
    const ctrl = refusal(() =>
      encodeMessage({
        type: "BUNDLE_CONTROL",
        xid: 1,
        bundleId: 1,
        ctrlType: "NOPE" as never,
        flags: 0,
        properties: new Uint8Array(0),
      }),
    );
    expect(ctrl.offset).toBe(20);
    expect(ctrl.detail).toMatch(/^ctrlType\b/);
    const add = refusal(() =>
      encodeMessage({
        type: "BUNDLE_ADD_MESSAGE",
        xid: 9,
        bundleId: 1,
        flags: 0,
        message: { type: "BARRIER_REQUEST", xid: 8 },
        properties: new Uint8Array(0),
      }),
    );
    expect(add.detail).toBe("bundle add xid 9 differs from its message's 8");
  });

  it.each([
    ["bundleId", { bundleId: 2 ** 32 }],
    ["flags", { flags: 0x1_0000 }],
  ])("names %s when a value does not fit, in a control and an add", (field, bad) => {
    const control = {
      type: "BUNDLE_CONTROL",
      xid: 1,
      bundleId: 1,
      ctrlType: "COMMIT_REQUEST",
      flags: 0,
    } as const;
    expect(
      refusal(() => encodeMessage({ ...control, properties: new Uint8Array(0), ...bad })).detail,
    ).toMatch(new RegExp(`^${field}\\b`));
    const add = { type: "BUNDLE_ADD_MESSAGE", xid: 1, bundleId: 1, flags: 0 } as const;
    const message = { type: "BARRIER_REQUEST", xid: 1 } as const;
    expect(
      refusal(() => encodeMessage({ ...add, message, properties: new Uint8Array(0), ...bad })).detail,
    ).toMatch(new RegExp(`^${field}\\b`));
  });

  it("names the field a truncated control or add ends in, and a bundled message that does not fit", () => {
    const control = encodeMessage({
      type: "BUNDLE_CONTROL",
      xid: 1,
      bundleId: 1,
      ctrlType: "COMMIT_REQUEST",
      flags: 0,
      properties: new Uint8Array(0),
    });
    const add = encodeMessage({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 1,
      bundleId: 1,
      flags: 0,
      message: { type: "BARRIER_REQUEST", xid: 1 },
      properties: new Uint8Array(0),
    });
    const cut = (bytes: Uint8Array, n: number) => {
      const b = bytes.slice(0, n);
      b[2] = n >> 8;
      b[3] = n & 0xff;
      return b;
    };
    const detail = (bytes: Uint8Array) => refusal(() => decodeMessage(bytes)).detail;
    expect(detail(cut(control, 16))).toMatch(/^bundle_id\b/);
    expect(detail(cut(control, 20))).toMatch(/^bundle ctrl type\b/);
    expect(detail(cut(control, 22))).toMatch(/^bundle flags\b/);
    expect(detail(cut(add, 16))).toMatch(/^bundle_id\b/);
    expect(detail(cut(add, 22))).toMatch(/^bundle flags\b/);
    expect(detail(cut(add, 24))).toMatch(/^bundled message header\b/);
    const tooLong = add.slice();
    tooLong[24 + 3] = 9;
    expect(detail(tooLong)).toBe("bundled message length 9 does not fit the 8 bytes left");
    const unknownCtrl = control.slice();
    unknownCtrl[21] = 99;
    expect(detail(unknownCtrl)).toMatch(/bundle ctrl type/);
  });
});

describe("FLOW_MOD fields", () => {
  const flowMod: FlowMod = {
    type: "FLOW_MOD",
    xid: 1,
    cookie: 1n,
    cookieMask: 0n,
    tableId: 0,
    command: "ADD",
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 100,
    bufferId: 0xffff_ffff,
    outPort: 0xffff_ffff,
    outGroup: 0xffff_ffff,
    flags: 0,
    match: [],
    instructions: [],
  };

  it.each([
    ["cookieMask", { cookieMask: 2n ** 64n }],
    ["tableId", { tableId: 256 }],
    ["idleTimeout", { idleTimeout: 0x1_0000 }],
    ["hardTimeout", { hardTimeout: 0x1_0000 }],
    ["bufferId", { bufferId: 2 ** 32 }],
    ["outPort", { outPort: 2 ** 32 }],
    ["outGroup", { outGroup: 2 ** 32 }],
    ["flags", { flags: 0x1_0000 }],
  ])("names %s when its value does not fit", (field, bad) => {
    expect(refusal(() => encodeMessage({ ...flowMod, ...bad } as FlowMod)).detail).toMatch(
      new RegExp(`^${field}\\b`),
    );
  });

  it("names the field a truncated FLOW_MOD ends in", () => {
    const bytes = encodeMessage(flowMod);
    const fields: [number, string][] = [
      [8, "cookie"],
      [16, "cookie_mask"],
      [24, "table_id"],
      [25, "command"],
      [26, "idle_timeout"],
      [28, "hard_timeout"],
      [30, "priority"],
      [32, "buffer_id"],
      [36, "out_port"],
      [40, "out_group"],
      [44, "flags"],
    ];
    for (const [n, field] of fields) {
      const b = bytes.slice(0, n);
      b[2] = 0;
      b[3] = n;
      expect(refusal(() => decodeMessage(b)).detail, field).toMatch(new RegExp(`^${field}:`));
    }
  });
});
