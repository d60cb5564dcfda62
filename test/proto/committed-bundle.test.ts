import { describe, expect, it } from "vitest";
import {
  encodeBundleAdds,
  encodeBundleCommit,
  encodeCommittedBundle,
  encodeMessage,
  MessageFramer,
  OFPBF,
  type OfpMessage,
} from "../../proto/index.ts";
import { flowMod, hex, protoErrorOf } from "./helpers.ts";
import { expectOvsDecodes } from "./ovs-oracle.ts";

const FLAGS = OFPBF.ATOMIC | OFPBF.ORDERED;

/** Xids from `first` on. */
function counter(first: number): () => number {
  let next = first;
  return () => next++;
}

describe("committed bundle", () => {
  const add = flowMod(0);
  const del = flowMod(0, { command: "DELETE_STRICT", priority: 7 });

  it("is ADD_MESSAGE per message (each with its ADD's xid), COMMIT_REQUEST and BARRIER_REQUEST, as encodeMessage writes them", () => {
    const inner = [encodeMessage(add), encodeMessage(del)];
    const frames = encodeCommittedBundle(inner, 9, FLAGS, counter(101));
    const expected: OfpMessage[] = [
      { ...add, xid: 101 },
      { ...del, xid: 102 },
    ].map((message) => ({
      type: "BUNDLE_ADD_MESSAGE",
      xid: message.xid,
      bundleId: 9,
      flags: FLAGS,
      message,
      properties: new Uint8Array(0),
    }));
    expected.push(
      {
        type: "BUNDLE_CONTROL",
        xid: 103,
        bundleId: 9,
        ctrlType: "COMMIT_REQUEST",
        flags: FLAGS,
        properties: new Uint8Array(0),
      },
      { type: "BARRIER_REQUEST", xid: 104 },
    );
    expect(hex(frames.bytes)).toBe(hex(Buffer.concat(expected.map((m) => encodeMessage(m)))));
    expect(frames).toMatchObject({ xids: [101, 102, 103, 104], commitXid: 103, barrierXid: 104 });
    // The caller's message bytes are copied, not patched.
    expect(hex(inner[0]!)).toBe(hex(encodeMessage(add)));
  });

  it("in parts (encodeBundleAdds per slice, then encodeBundleCommit) is the same bytes and xids", () => {
    const inner = [encodeMessage(add), encodeMessage(del), encodeMessage(add)];
    const whole = encodeCommittedBundle(inner, 9, FLAGS, counter(101));
    const next = counter(101);
    const first = encodeBundleAdds(inner.slice(0, 2), 9, FLAGS, next);
    const second = encodeBundleAdds(inner.slice(2), 9, FLAGS, next);
    const commit = encodeBundleCommit(9, FLAGS, next);
    expect(hex(Buffer.concat([first.bytes, second.bytes, commit.bytes]))).toBe(hex(whole.bytes));
    expect([...first.xids, ...second.xids, commit.commitXid, commit.barrierXid]).toEqual(whole.xids);
    expect(commit).toMatchObject({ commitXid: whole.commitXid, barrierXid: whole.barrierXid });
    expect(protoErrorOf(() => encodeBundleAdds([inner[0]!.subarray(0, 20)], 9, FLAGS, next)).code).toBe(
      "BAD_LENGTH",
    );
    expect(protoErrorOf(() => encodeBundleCommit(2 ** 32, FLAGS, next)).code).toBe("BAD_VALUE");
  });

  it("decodes in ovs-ofctl as OVS's own bundle messages and barrier", () => {
    const frames = encodeCommittedBundle([encodeMessage(add)], 3, FLAGS, counter(1));
    const [bundled, commit, barrier] = new MessageFramer().push(frames.bytes);
    expectOvsDecodes(
      bundled!,
      "ONFT_BUNDLE_ADD_MESSAGE (OF1.3) (xid=0x1):",
      "bundle_id=0x3 flags=atomic ordered",
      "OFPT_FLOW_MOD (OF1.3) (xid=0x1): ADD",
    );
    expectOvsDecodes(
      commit!,
      "ONFT_BUNDLE_CONTROL (OF1.3) (xid=0x2):",
      "bundle_id=0x3 type=COMMIT_REQUEST flags=atomic ordered",
    );
    expectOvsDecodes(barrier!, "OFPT_BARRIER_REQUEST (OF1.3) (xid=0x3):");
  });

  it("refuses no message, a partial message, a message too long to bundle, and out-of-range ids", () => {
    const one = encodeMessage(add);
    expect(protoErrorOf(() => encodeCommittedBundle([], 1, FLAGS, counter(1)))).toMatchObject({
      code: "BAD_VALUE",
      detail: expect.stringMatching(/needs a message/),
    });
    expect(
      protoErrorOf(() => encodeCommittedBundle([one.subarray(0, 20)], 1, FLAGS, counter(1))),
    ).toMatchObject({ code: "BAD_LENGTH", detail: expect.stringMatching(/bundled message 0/) });
    const huge = new Uint8Array(0xffff);
    new DataView(huge.buffer).setUint16(2, 0xffff);
    expect(protoErrorOf(() => encodeCommittedBundle([one, huge], 1, FLAGS, counter(1)))).toMatchObject({
      code: "TOO_LONG",
      detail: expect.stringMatching(/bundled message 1/),
    });
    expect(protoErrorOf(() => encodeCommittedBundle([one], 2 ** 32, FLAGS, counter(1))).code).toBe(
      "BAD_VALUE",
    );
    expect(protoErrorOf(() => encodeCommittedBundle([one], 1, 0x10000, counter(1))).code).toBe("BAD_VALUE");
  });
});
