import { describe, expect, it } from "vitest";
import { compileSwitch } from "../../../controller/compiler/flow-compiler.ts";
import { addFlowMod, deleteFlowMod } from "../../../controller/compiler/flow-mod.ts";
import { parseDurationMs, parseOpenFlowListen, parsePortOrOff } from "../../../controller/config.ts";
import {
  BATCH_BUNDLE_FLAGS,
  batchFrames,
  batchSlices,
  RULES_PER_SLICE,
} from "../../../controller/openflow/batch-frames.ts";
import { helloFailed, negotiate } from "../../../controller/openflow/handshake.ts";
import { Keepalive } from "../../../controller/openflow/keepalive.ts";
import { PROBE_KIND, probeFrame, readProbe } from "../../../controller/openflow/probe-packet.ts";
import { SessionRegistry } from "../../../controller/openflow/registry.ts";
import { BatchReply, FlowStatsReply, SingleReply } from "../../../controller/openflow/replies.ts";
import { RequestTracker, type Timers } from "../../../controller/openflow/request-tracker.ts";
import type { SwitchSession } from "../../../controller/openflow/session.ts";
import {
  decodeMessage,
  encodeMessage,
  type FlowStats,
  MessageFramer,
  OFPET,
  type OfpMessage,
} from "../../../proto/index.ts";
import { FlowTable, readFlowMod } from "../../support/switch-emulator/flow-table.ts";
import { makeState } from "../support/fixtures.ts";

const two = makeState(42, [
  ["a", "198.18.0.1", "192.0.2.10"],
  ["b", "198.18.0.2", "198.51.100.20"],
]);

describe("version negotiation", () => {
  const hello = (version: number, versions?: number[]) => ({
    type: "HELLO" as const,
    xid: 7,
    version,
    elements: versions ? [{ kind: "VERSION_BITMAP" as const, versions }] : [],
  });

  it.each([
    [hello(1, [1]), false],
    [hello(4, [1, 4]), true],
    [hello(6, [4, 5, 6]), true],
    [hello(5, [5]), false],
    [hello(1), false],
    [hello(4), true],
    [hello(5), true],
  ])("%j -> ok %s", (peer, ok) => {
    expect(negotiate(peer).ok).toBe(ok);
  });

  it("answers an OpenFlow 1.0 peer HELLO_FAILED/INCOMPATIBLE in its own version", () => {
    const result = negotiate(hello(1, [1]));
    expect(result.ok).toBe(false);
    const err = helloFailed(hello(1, [1]), result.ok ? "" : result.reason);
    const bytes = encodeMessage(err);
    expect(bytes[0]).toBe(1);
    expect(decodeMessage(bytes)).toMatchObject({
      type: "ERROR",
      xid: 7,
      errorType: OFPET.HELLO_FAILED,
      code: 0,
    });
    expect(new TextDecoder().decode(err.data)).toMatch(/no common version/);
  });
});

describe("batch frames", () => {
  it("are one ADD_MESSAGE per FLOW_MOD (same xid inside; the first opens the bundle), COMMIT and BARRIER, as proto encodes them", () => {
    const rules = compileSwitch(two, "a");
    let xid = 101;
    const frames = batchFrames({ add: rules.slice(0, 3), delete: rules.slice(3) }, 9, () => xid++);
    const messages = new MessageFramer().push(frames.bytes).map((b) => decodeMessage(b));
    const expected: OfpMessage[] = [
      ...rules.slice(0, 3).map(
        (r, i): OfpMessage => ({
          type: "BUNDLE_ADD_MESSAGE",
          xid: 101 + i,
          bundleId: 9,
          flags: BATCH_BUNDLE_FLAGS,
          message: addFlowMod(r, 101 + i),
          properties: new Uint8Array(0),
        }),
      ),
      {
        type: "BUNDLE_ADD_MESSAGE",
        xid: 104,
        bundleId: 9,
        flags: BATCH_BUNDLE_FLAGS,
        message: deleteFlowMod(rules[3]!, 104),
        properties: new Uint8Array(0),
      },
      {
        type: "BUNDLE_CONTROL",
        xid: 105,
        bundleId: 9,
        ctrlType: "COMMIT_REQUEST",
        flags: BATCH_BUNDLE_FLAGS,
        properties: new Uint8Array(0),
      },
      { type: "BARRIER_REQUEST", xid: 106 },
    ];
    expect(Buffer.from(frames.bytes)).toEqual(Buffer.concat(expected.map((m) => encodeMessage(m))));
    expect(messages.map((m) => m.type)).toEqual(expected.map((m) => m.type));
    expect(frames).toMatchObject({
      commitXid: 105,
      barrierXid: 106,
      flowMods: 4,
      xids: [101, 102, 103, 104, 105, 106],
    });
    expect(() => batchFrames({ add: [], delete: [] }, 9, () => xid++)).toThrow(/needs a FLOW_MOD/);
  });

  it("of a large batch, in slices of RULES_PER_SLICE FLOW_MODs then COMMIT and BARRIER, are the same bytes", () => {
    const specs = Array.from(
      { length: 1200 },
      (_, i) => [`vm${i}`, `10.${i >> 8}.${i & 255}.1`, `172.${16 + (i >> 8)}.${i & 255}.1`] as const,
    );
    const rules = compileSwitch(makeState(42, specs), "vm0");
    const batch = { add: rules.slice(0, 4000), delete: rules.slice(4000) };
    let xid = 7;
    const whole = batchFrames(batch, 9, () => xid++);
    const slices = [...batchSlices(batch, 9, 7)];
    expect(slices).toHaveLength(Math.ceil(rules.length / RULES_PER_SLICE) + 1);
    expect(Buffer.concat(slices)).toEqual(Buffer.from(whole.bytes));
    expect(() => [...batchSlices({ add: [], delete: [] }, 9, 1)]).toThrow(/needs a FLOW_MOD/);
  });
});

/** Timers the test fires by hand. */
class ManualTimers implements Timers {
  readonly pending = new Map<number, () => void>();
  #next = 0;
  set(fn: () => void): unknown {
    this.pending.set(++this.#next, fn);
    return this.#next;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    for (const [k, fn] of [...this.pending]) {
      this.pending.delete(k);
      fn();
    }
  }
}

const error = (xid: number, errorType: number, code: number): OfpMessage => ({
  type: "ERROR",
  xid,
  errorType,
  code,
  data: encodeMessage(addFlowMod(compileSwitch(two, "a")[0]!, xid)).slice(0, 64),
});

describe("request correlation", () => {
  it("confirms a batch with its commit reply and barrier reply", async () => {
    const tracker = new RequestTracker({ maxXids: 100 });
    const batch = new BatchReply(12, 13);
    tracker.add(batch, 10, 4, 1000, "batch");
    expect(
      tracker.route({
        type: "BUNDLE_CONTROL",
        xid: 10,
        bundleId: 1,
        ctrlType: "OPEN_REPLY",
        flags: 3,
        properties: new Uint8Array(0),
      }),
    ).toBe(true);
    tracker.route({
      type: "BUNDLE_CONTROL",
      xid: 12,
      bundleId: 1,
      ctrlType: "COMMIT_REPLY",
      flags: 3,
      properties: new Uint8Array(0),
    });
    tracker.route({ type: "BARRIER_REPLY", xid: 13 });
    await expect(batch.promise).resolves.toBeUndefined();
    expect(tracker.size).toBe(0);
    expect(tracker.route({ type: "BARRIER_REPLY", xid: 13 })).toBe(false);
  });

  it("fails a batch with the error of the FLOW_MOD that caused it, once the barrier shows all errors are in", async () => {
    const tracker = new RequestTracker({ maxXids: 100 });
    const batch = new BatchReply(12, 13);
    let settled = false;
    batch.promise
      .catch(() => {})
      .finally(() => {
        settled = true;
      });
    tracker.add(batch, 10, 4, 1000, "batch");
    tracker.route(error(11, OFPET.BAD_MATCH, 3));
    tracker.route(error(12, OFPET.BAD_REQUEST, 1));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    tracker.route({ type: "BARRIER_REPLY", xid: 13 });
    await expect(batch.promise).rejects.toMatchObject({
      kind: "OPENFLOW",
      info: {
        type: "BAD_MATCH",
        code: "BAD_DL_ADDR_MASK",
        message: expect.stringMatching(/BAD_MATCH\/BAD_DL_ADDR_MASK \(refused FLOW_MOD xid 11\)/),
      },
    });
    expect(batch.extraErrors).toBe(1);
  });

  it("routes by xid range to whichever of several requests owns it, completed in any order", async () => {
    const tracker = new RequestTracker({ maxXids: 100 });
    const first = new BatchReply(12, 13);
    const second = new BatchReply(16, 17);
    const barrier = new SingleReply("BARRIER_REPLY", "barrier");
    tracker.add(first, 10, 4, 1000, "batch");
    tracker.add(second, 14, 4, 1000, "batch");
    tracker.add(barrier, 18, 1, 1000, "barrier");
    expect(tracker.size).toBe(9);
    const commit = (xid: number): OfpMessage => ({
      type: "BUNDLE_CONTROL",
      xid,
      bundleId: 1,
      ctrlType: "COMMIT_REPLY",
      flags: 3,
      properties: new Uint8Array(0),
    });
    expect(tracker.route({ type: "BARRIER_REPLY", xid: 9 })).toBe(false);
    expect(tracker.route({ type: "BARRIER_REPLY", xid: 19 })).toBe(false);
    tracker.route(commit(16));
    tracker.route({ type: "BARRIER_REPLY", xid: 17 });
    await expect(second.promise).resolves.toBeUndefined();
    expect(tracker.size).toBe(5);
    tracker.route({ type: "BARRIER_REPLY", xid: 18 });
    await expect(barrier.promise).resolves.toMatchObject({ xid: 18 });
    tracker.route(error(11, OFPET.BAD_MATCH, 3));
    tracker.route({ type: "BARRIER_REPLY", xid: 13 });
    await expect(first.promise).rejects.toMatchObject({ kind: "OPENFLOW" });
    expect(tracker.size).toBe(0);
  });

  it("times out, aborts on disconnect, and refuses past its bound", async () => {
    const timers = new ManualTimers();
    const tracker = new RequestTracker({ maxXids: 3, timers });
    const slow = new BatchReply(2, 3);
    tracker.add(slow, 1, 3, 50, "batch of 1 FLOW_MODs");
    expect(() => tracker.add(new BatchReply(5, 6), 4, 3, 50, "another")).toThrow(/3 xids already in flight/);
    timers.fireAll();
    await expect(slow.promise).rejects.toMatchObject({
      kind: "TIMEOUT",
      message: expect.stringMatching(/within 50 ms/),
    });
    expect(tracker.size).toBe(0);
    const gone = new BatchReply(8, 9);
    tracker.add(gone, 7, 3, 50, "batch");
    const { SwitchRequestError } = await import("../../../controller/openflow/errors.ts");
    tracker.abortAll(new SwitchRequestError("DISCONNECTED", "bye"));
    await expect(gone.promise).rejects.toMatchObject({ kind: "DISCONNECTED" });
  });

  it("gathers a FLOW stats reply over parts with the MORE flag, within its bound", async () => {
    const stat = (priority: number): FlowStats => ({
      tableId: 0,
      durationSec: 0,
      durationNsec: 0,
      priority,
      idleTimeout: 0,
      hardTimeout: 0,
      flags: 0,
      cookie: 0n,
      packetCount: 0n,
      byteCount: 0n,
      match: [],
      instructions: [],
    });
    const part = (xid: number, more: boolean, ps: number[]): OfpMessage => ({
      type: "MULTIPART_REPLY",
      xid,
      flags: more ? 1 : 0,
      body: { kind: "FLOW", stats: ps.map(stat) },
    });
    const tracker = new RequestTracker({ maxXids: 10 });
    const stats = new FlowStatsReply(10);
    tracker.add(stats, 5, 1, 1000, "flow stats");
    tracker.route(part(5, true, [1, 2]));
    tracker.route(part(5, true, [3]));
    tracker.route(part(5, false, [4]));
    expect((await stats.promise).map((s) => s.priority)).toEqual([1, 2, 3, 4]);
    const tooMany = new FlowStatsReply(2);
    tracker.add(tooMany, 6, 1, 1000, "flow stats");
    tracker.route(part(6, true, [1, 2, 3]));
    await expect(tooMany.promise).rejects.toMatchObject({ kind: "OVERLOAD" });
    expect(tracker.route(part(6, false, [4]))).toBe(false);
  });
});

describe("session registry", () => {
  const fake = (dpid: bigint, remoteAddress: string, connectedAt: number) =>
    ({ dpid, remoteAddress, connectedAt, isReady: true }) as unknown as SwitchSession;

  it("picks the session at the member's endpoint, else the newest; never drops the others", () => {
    const r = new SessionRegistry();
    const old = fake(1n, "192.0.2.10", 1);
    const moved = fake(1n, "203.0.113.77", 2);
    const natted = fake(2n, "10.0.0.1", 3);
    for (const s of [old, moved, natted]) r.add(s);
    expect(r.pick(1n, "203.0.113.77")).toBe(moved);
    expect(r.pick(1n, "192.0.2.10")).toBe(old);
    expect(r.pick(1n, "198.51.100.1")).toBe(moved);
    expect(r.pick(1n, null)).toBe(moved);
    expect(r.pick(2n, "192.0.2.99")).toBe(natted);
    expect(r.pick(3n, "192.0.2.99")).toBeUndefined();
    r.remove(moved);
    expect(r.pick(1n, "203.0.113.77")).toBe(old);
    expect(r.sessionsOf(1n)).toEqual([old]);
  });
});

describe("echo keepalive", () => {
  it("echoes after an interval of silence and declares the switch dead within 3 intervals", () => {
    let now = 0;
    const echoes: number[] = [];
    let deadAt: number | undefined;
    const k = new Keepalive({
      intervalMs: 100,
      now: () => now,
      sendEcho: () => echoes.push(now),
      onDead: () => {
        deadAt = now;
      },
    });
    for (now = 0; now <= 1000 && deadAt === undefined; now += 50) {
      if (now === 150) k.heard();
      k.check();
    }
    expect(echoes[0]).toBe(100);
    expect(deadAt).toBeDefined();
    expect(deadAt! - 150).toBeLessThanOrEqual(300);
    expect(deadAt! - 150).toBeGreaterThanOrEqual(250);
  });
});

describe("probe packets", () => {
  const nonce = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  it("carry their tag and a valid IPv4 header, and only ours are recognised", () => {
    const frame = probeFrame("198.18.0.1", "198.18.0.2", 48879, {
      nonce,
      watch: 7,
      link: 2,
      kind: PROBE_KIND.DOWNTIME,
      seq: 99,
    });
    expect(readProbe(frame, 48879, nonce)).toMatchObject({
      watch: 7,
      link: 2,
      kind: PROBE_KIND.DOWNTIME,
      seq: 99,
    });
    expect(readProbe(frame, 48880, nonce)).toBeUndefined();
    expect(readProbe(frame, 48879, new Uint8Array(8))).toBeUndefined();
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += (frame[i]! << 8) | frame[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
  });
});

describe("emulator flow table", () => {
  const rules = compileSwitch(two, "a");
  it("adds, replaces in place, deletes strictly by cookie, whatever the match field order", () => {
    const t = new FlowTable();
    for (const r of rules) t.apply(readFlowMod(encodeMessage(addFlowMod(r, 1))));
    expect(t.size).toBe(rules.length);
    const reordered = { ...rules[0]!, match: [...rules[0]!.match].reverse() };
    t.apply(readFlowMod(encodeMessage(addFlowMod(reordered, 2))));
    expect(t.size).toBe(rules.length);
    t.apply(readFlowMod(encodeMessage(deleteFlowMod({ ...rules[1]!, cookie: 5n }, 3))));
    expect(t.size).toBe(rules.length);
    t.apply(readFlowMod(encodeMessage(deleteFlowMod(rules[1]!, 3))));
    expect(t.size).toBe(rules.length - 1);
    expect(
      t.select({ tableId: 0xff, cookie: rules[2]!.cookie, cookieMask: ~0n & 0xffff_ffff_ffff_ffffn }),
    ).toHaveLength(1);
  });
});

describe("serve options", () => {
  it("parse listeners, durations and ports, and name the flag when wrong", () => {
    expect(parseOpenFlowListen("0.0.0.0", "--openflow", 6653)).toEqual({ host: "0.0.0.0", port: 6653 });
    expect(parseOpenFlowListen("127.0.0.1:0", "--openflow", 6653)).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseOpenFlowListen("[::]", "--openflow", 6654)).toEqual({ host: "::", port: 6654 });
    expect(parseOpenFlowListen("off", "--openflow", 6653)).toBeUndefined();
    expect(() => parseOpenFlowListen("a b", "--openflow", 6653)).toThrow(/--openflow: 'a b'/);
    expect(parseDurationMs("5s", "--echo-interval", 50, 3_600_000)).toBe(5000);
    expect(parseDurationMs("250ms", "--echo-interval", 50, 3_600_000)).toBe(250);
    expect(parseDurationMs("2", "--echo-interval", 50, 3_600_000)).toBe(2000);
    expect(() => parseDurationMs("10ms", "--echo-interval", 50, 3_600_000)).toThrow(/--echo-interval/);
    expect(parsePortOrOff("off", "--probe-port")).toBeUndefined();
    expect(parsePortOrOff("48879", "--probe-port")).toBe(48879);
    expect(() => parsePortOrOff("0", "--probe-port")).toThrow(/--probe-port/);
  });
});
