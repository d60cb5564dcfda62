import fc from "fast-check";
import type { OfpMessage } from "../../proto/index.ts";
import { ascii, bytes, u8, u16, u32, u64, xid } from "./arb-primitives.ts";
import { controlMessageArbs } from "./control-arbitraries.ts";
import { flowMessageArbs } from "./flow-arbitraries.ts";

/** fast-check generators of valid messages of every type, for round-trip and fuzz properties. */

const hello: fc.Arbitrary<OfpMessage> = fc.record({
  type: fc.constant("HELLO" as const),
  xid,
  version: fc.integer({ min: 1, max: 6 }),
  elements: fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("VERSION_BITMAP" as const),
        versions: fc
          .uniqueArray(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 6 })
          .map((v) => v.sort((a, b) => a - b)),
      }),
      fc.record({
        kind: fc.constant("UNKNOWN" as const),
        elementType: fc.integer({ min: 2, max: 0xffff }),
        data: bytes(20),
      }),
    ),
    { maxLength: 3 },
  ),
});

const simple: fc.Arbitrary<OfpMessage>[] = [
  hello,
  fc.record({ type: fc.constant("ECHO_REQUEST" as const), xid, data: bytes() }),
  fc.record({ type: fc.constant("ECHO_REPLY" as const), xid, data: bytes() }),
  fc.record({ type: fc.constant("FEATURES_REQUEST" as const), xid }),
  fc.record({
    type: fc.constant("FEATURES_REPLY" as const),
    xid,
    datapathId: u64,
    nBuffers: u32,
    nTables: u8,
    auxiliaryId: u8,
    capabilities: u32,
    reserved: u32,
  }),
  fc.record({ type: fc.constant("BARRIER_REQUEST" as const), xid }),
  fc.record({ type: fc.constant("BARRIER_REPLY" as const), xid }),
  fc.record({
    type: fc.constant("MULTIPART_REQUEST" as const),
    xid,
    flags: u16,
    body: fc.constant({ kind: "DESC" as const }),
  }),
  fc.record({
    type: fc.constant("MULTIPART_REPLY" as const),
    xid,
    flags: u16,
    body: fc.record({
      kind: fc.constant("DESC" as const),
      mfrDesc: ascii(255),
      hwDesc: ascii(255),
      swDesc: ascii(255),
      serialNum: ascii(31),
      dpDesc: ascii(255),
    }),
  }),
];

export const arbMessage: fc.Arbitrary<OfpMessage> = fc.oneof(
  ...simple,
  ...controlMessageArbs,
  ...flowMessageArbs,
);
