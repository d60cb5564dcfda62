import fc from "fast-check";
import type { OfpMessage, OfpPort } from "../../proto/index.ts";
import { ascii, bytes, u8, u16, u32, u64, xid } from "./arb-primitives.ts";

/**
 * Generators for the control messages (ERROR, EXPERIMENTER, bundles, config, port, role, async)
 * and the TABLE / PORT_STATS / PORT_DESC multipart bodies. Spread `controlMessageArbs` into the
 * shared `arbMessage` to fuzz them with everything else.
 */
const mac = fc
  .uint8Array({ minLength: 6, maxLength: 6 })
  .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":"));

export const arbPort: fc.Arbitrary<OfpPort> = fc.record({
  portNo: u32,
  hwAddr: mac,
  name: ascii(15),
  config: u32,
  state: u32,
  curr: u32,
  advertised: u32,
  supported: u32,
  peer: u32,
  currSpeed: u32,
  maxSpeed: u32,
});

const otherVersion = fc.option(
  fc.integer({ min: 1, max: 6 }).filter((v) => v !== 4),
  { nil: undefined, freq: 4 },
);
const masks = fc.tuple(u32, u32);
const asyncConfig = { packetInMask: masks, portStatusMask: masks, flowRemovedMask: masks };

const portMod = fc.record({
  type: fc.constant("PORT_MOD" as const),
  xid,
  portNo: u32,
  hwAddr: mac,
  config: u32,
  mask: u32,
  advertise: u32,
});
const tableMod = fc.record({ type: fc.constant("TABLE_MOD" as const), xid, tableId: u8, config: u32 });

/** What a bundle may carry here; the bundle add takes its message's xid, as the switch requires. */
const bundlable: fc.Arbitrary<OfpMessage> = fc.oneof(
  portMod,
  tableMod,
  fc.record({ type: fc.constant("BARRIER_REQUEST" as const), xid }),
);

const portStats = fc.record({
  portNo: u32,
  rxPackets: u64,
  txPackets: u64,
  rxBytes: u64,
  txBytes: u64,
  rxDropped: u64,
  txDropped: u64,
  rxErrors: u64,
  txErrors: u64,
  rxFrameErr: u64,
  rxOverErr: u64,
  rxCrcErr: u64,
  collisions: u64,
  durationSec: u32,
  durationNsec: u32,
});

const multipart = (type: "MULTIPART_REQUEST" | "MULTIPART_REPLY", body: fc.Arbitrary<unknown>) =>
  fc.record({ type: fc.constant(type), xid, flags: u16, body }) as fc.Arbitrary<OfpMessage>;

export const controlMessageArbs: fc.Arbitrary<OfpMessage>[] = [
  fc.record({
    type: fc.constant("ERROR" as const),
    xid,
    version: otherVersion,
    errorType: fc.integer({ min: 0, max: 0xfffe }),
    code: u16,
    data: bytes(),
  }),
  fc.record({
    type: fc.constant("ERROR" as const),
    xid,
    version: otherVersion,
    errorType: fc.constant(0xffff as const),
    expType: u16,
    experimenter: u32,
    data: bytes(),
  }),
  fc.record({
    type: fc.constant("EXPERIMENTER" as const),
    xid,
    experimenter: u32.filter((e) => e !== 0x4f4e4600),
    expType: u32,
    data: bytes(),
  }),
  fc.record({
    type: fc.constant("BUNDLE_CONTROL" as const),
    xid,
    bundleId: u32,
    ctrlType: fc.constantFrom(
      "OPEN_REQUEST",
      "OPEN_REPLY",
      "CLOSE_REQUEST",
      "CLOSE_REPLY",
      "COMMIT_REQUEST",
      "COMMIT_REPLY",
      "DISCARD_REQUEST",
      "DISCARD_REPLY",
    ),
    flags: u16,
    properties: bytes(24),
  }),
  fc
    .record({ bundleId: u32, flags: u16, message: bundlable, properties: bytes(24) })
    .map((b) => ({ type: "BUNDLE_ADD_MESSAGE" as const, xid: b.message.xid, ...b })),
  fc.record({ type: fc.constant("GET_CONFIG_REQUEST" as const), xid }),
  fc.record({ type: fc.constant("GET_CONFIG_REPLY" as const), xid, flags: u16, missSendLen: u16 }),
  fc.record({ type: fc.constant("SET_CONFIG" as const), xid, flags: u16, missSendLen: u16 }),
  fc.record({
    type: fc.constant("PORT_STATUS" as const),
    xid,
    reason: fc.constantFrom("ADD", "DELETE", "MODIFY"),
    desc: arbPort,
  }),
  portMod,
  tableMod,
  ...(["ROLE_REQUEST", "ROLE_REPLY"] as const).map((type) =>
    fc.record({
      type: fc.constant(type),
      xid,
      role: fc.constantFrom("NOCHANGE", "EQUAL", "MASTER", "SLAVE"),
      generationId: u64,
    }),
  ),
  fc.record({ type: fc.constant("GET_ASYNC_REQUEST" as const), xid }),
  fc.record({ type: fc.constant("GET_ASYNC_REPLY" as const), xid, ...asyncConfig }),
  fc.record({ type: fc.constant("SET_ASYNC" as const), xid, ...asyncConfig }),
  multipart("MULTIPART_REQUEST", fc.constant({ kind: "TABLE" })),
  multipart(
    "MULTIPART_REPLY",
    fc.record({
      kind: fc.constant("TABLE"),
      tables: fc.array(fc.record({ tableId: u8, activeCount: u32, lookupCount: u64, matchedCount: u64 }), {
        maxLength: 5,
      }),
    }),
  ),
  multipart("MULTIPART_REQUEST", fc.record({ kind: fc.constant("PORT_STATS"), portNo: u32 })),
  multipart(
    "MULTIPART_REPLY",
    fc.record({ kind: fc.constant("PORT_STATS"), ports: fc.array(portStats, { maxLength: 4 }) }),
  ),
  multipart("MULTIPART_REQUEST", fc.constant({ kind: "PORT_DESC" })),
  multipart(
    "MULTIPART_REPLY",
    fc.record({ kind: fc.constant("PORT_DESC"), ports: fc.array(arbPort, { maxLength: 4 }) }),
  ),
];

export const arbControlMessage: fc.Arbitrary<OfpMessage> = fc.oneof(...controlMessageArbs);
