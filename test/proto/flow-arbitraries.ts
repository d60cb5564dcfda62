import fc from "fast-check";
import {
  type Action,
  type Bucket,
  formatIpv4,
  formatIpv6,
  formatMac,
  type Instruction,
  type OfpMessage,
  OXM_FIELDS,
  type OxmField,
  type OxmFieldName,
  type SetFieldOxm,
} from "../../proto/index.ts";
import { bytes, u8, u16, u32, u64, xid } from "./arb-primitives.ts";

/**
 * Generators for matches, actions, instructions, buckets, the flow messages (FLOW_MOD, PACKET_IN,
 * PACKET_OUT, FLOW_REMOVED, GROUP_MOD) and the FLOW / AGGREGATE / GROUP / GROUP_DESC bodies.
 * Values are canonical (lowercase MACs, RFC 5952 IPv6, masked-out bits clear) so that both
 * round-trip properties hold. Spread `flowMessageArbs` into the shared `arbMessage`.
 */

const BITS: Partial<Record<OxmFieldName, number>> = {
  VLAN_VID: 13,
  VLAN_PCP: 3,
  IP_DSCP: 6,
  IP_ECN: 2,
  IPV6_FLABEL: 20,
  MPLS_LABEL: 20,
  MPLS_TC: 3,
  MPLS_BOS: 1,
  IPV6_EXTHDR: 9,
};
const WIDTH = { u8: 1, u16: 2, u24: 3, u32: 4, u64: 8, mac: 6, ipv4: 4, ipv6: 16 } as const;

/** A field's value and, when `masked`, a mask, with the value's wildcarded bits cleared. */
function fieldValue(name: OxmFieldName, masked: boolean): fc.Arbitrary<OxmField> {
  const kind = OXM_FIELDS[name].kind;
  const width = WIDTH[kind];
  const raw = fc.uint8Array({ minLength: width, maxLength: width });
  return fc.tuple(raw, raw).map(([v, m]) => {
    const bits = BITS[name] ?? width * 8;
    // Clear the bits above the field's width, then the bits the mask wildcards.
    const top = bits % 8 === 0 ? 0xff : (1 << (bits % 8)) - 1;
    const lead = width - Math.ceil(bits / 8);
    for (const b of [v, m]) {
      b.fill(0, 0, lead);
      b[lead] = b[lead]! & top;
    }
    if (masked) for (let i = 0; i < width; i++) v[i] = v[i]! & m[i]!;
    const text = (b: Uint8Array): string | number | bigint => {
      switch (kind) {
        case "mac":
          return formatMac(b);
        case "ipv4":
          return formatIpv4(Buffer.from(b).readUInt32BE(0));
        case "ipv6":
          return formatIpv6(b);
        case "u64":
          return Buffer.from(b).readBigUInt64BE(0);
        default:
          return b.reduce((acc, x) => acc * 256 + x, 0);
      }
    };
    return (
      masked ? { field: name, value: text(v), mask: text(m) } : { field: name, value: text(v) }
    ) as OxmField;
  });
}

const fieldNames = Object.keys(OXM_FIELDS) as OxmFieldName[];

const knownField: fc.Arbitrary<OxmField> = fc
  .tuple(fc.constantFrom(...fieldNames), fc.boolean())
  .chain(([name, masked]) => fieldValue(name, masked && OXM_FIELDS[name].maskable));

/** A field outside our table: class/field pairs we do not name, with a raw payload. */
const unknownField = (allowMask: boolean) =>
  fc
    .record({
      oxmClass: fc.constantFrom(0x0000, 0x0001, 0x0003, 0x8000),
      oxmField: fc.integer({ min: 0, max: 127 }),
      hasMask: allowMask ? fc.boolean() : fc.constant(false),
      half: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    })
    .filter((f) =>
      f.oxmClass === 0x8000
        ? f.oxmField >= 40
        : f.oxmClass !== 0x0001 || (f.oxmField !== 31 && f.oxmField !== 32),
    )
    .map(
      (f): OxmField => ({
        field: "UNKNOWN",
        oxmClass: f.oxmClass,
        oxmField: f.oxmField,
        hasMask: f.hasMask,
        value: f.hasMask ? new Uint8Array([...f.half, ...f.half.map(() => 0xff)]) : f.half,
      }),
    );

export const arbMatch: fc.Arbitrary<OxmField[]> = fc.array(
  fc.oneof({ weight: 6, arbitrary: knownField }, { weight: 1, arbitrary: unknownField(true) }),
  { maxLength: 6 },
);

const setFieldOxm: fc.Arbitrary<SetFieldOxm> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...fieldNames).chain((n) => fieldValue(n, false)) },
  { weight: 1, arbitrary: unknownField(false) },
) as fc.Arbitrary<SetFieldOxm>;

const words = (max: number) =>
  fc.integer({ min: 0, max }).chain((n) => fc.uint8Array({ minLength: 8 * n, maxLength: 8 * n }));

export const arbAction: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("OUTPUT" as const), port: u32, maxLen: u16 }),
  fc.constantFrom<Action>(
    { kind: "COPY_TTL_OUT" },
    { kind: "COPY_TTL_IN" },
    { kind: "DEC_MPLS_TTL" },
    { kind: "POP_VLAN" },
    { kind: "DEC_NW_TTL" },
    { kind: "POP_PBB" },
  ),
  fc.record({ kind: fc.constantFrom("SET_MPLS_TTL" as const, "SET_NW_TTL" as const), ttl: u8 }),
  fc.record({
    kind: fc.constantFrom(
      "PUSH_VLAN" as const,
      "PUSH_MPLS" as const,
      "POP_MPLS" as const,
      "PUSH_PBB" as const,
    ),
    ethertype: u16,
  }),
  fc.record({ kind: fc.constant("SET_QUEUE" as const), queueId: u32 }),
  fc.record({ kind: fc.constant("GROUP" as const), groupId: u32 }),
  fc.record({ kind: fc.constant("SET_FIELD" as const), oxm: setFieldOxm }),
  fc.record({ kind: fc.constant("EXPERIMENTER" as const), experimenter: u32, data: words(3) }),
);

const actions = fc.array(arbAction, { maxLength: 5 });

export const arbInstruction: fc.Arbitrary<Instruction> = fc.oneof(
  fc.record({ kind: fc.constant("GOTO_TABLE" as const), tableId: u8 }),
  fc.record({ kind: fc.constant("WRITE_METADATA" as const), metadata: u64, mask: u64 }),
  fc.record({ kind: fc.constantFrom("WRITE_ACTIONS" as const, "APPLY_ACTIONS" as const), actions }),
  fc.constant<Instruction>({ kind: "CLEAR_ACTIONS" }),
  fc.record({ kind: fc.constant("METER" as const), meterId: u32 }),
  fc.record({ kind: fc.constant("EXPERIMENTER" as const), experimenter: u32, data: words(3) }),
);

const instructions = fc.array(arbInstruction, { maxLength: 4 });

const bucket: fc.Arbitrary<Bucket> = fc.record({ weight: u16, watchPort: u32, watchGroup: u32, actions });
const groupType = fc.constantFrom("ALL" as const, "SELECT" as const, "INDIRECT" as const, "FF" as const);

const filter = {
  tableId: u8,
  outPort: u32,
  outGroup: u32,
  cookie: u64,
  cookieMask: u64,
  match: arbMatch,
};

export const flowMessageArbs: fc.Arbitrary<OfpMessage>[] = [
  fc.record({
    type: fc.constant("FLOW_MOD" as const),
    xid,
    cookie: u64,
    cookieMask: u64,
    tableId: u8,
    command: fc.constantFrom(
      "ADD" as const,
      "MODIFY" as const,
      "MODIFY_STRICT" as const,
      "DELETE" as const,
      "DELETE_STRICT" as const,
    ),
    idleTimeout: u16,
    hardTimeout: u16,
    priority: u16,
    bufferId: u32,
    outPort: u32,
    outGroup: u32,
    flags: u16,
    match: arbMatch,
    instructions,
  }),
  fc.record({
    type: fc.constant("PACKET_IN" as const),
    xid,
    bufferId: u32,
    totalLen: u16,
    reason: fc.constantFrom("NO_MATCH" as const, "ACTION" as const, "INVALID_TTL" as const),
    tableId: u8,
    cookie: u64,
    match: arbMatch,
    data: bytes(),
  }),
  fc.record({
    type: fc.constant("PACKET_OUT" as const),
    xid,
    bufferId: u32,
    inPort: u32,
    actions,
    data: bytes(),
  }),
  fc.record({
    type: fc.constant("FLOW_REMOVED" as const),
    xid,
    cookie: u64,
    priority: u16,
    reason: fc.constantFrom(
      "IDLE_TIMEOUT" as const,
      "HARD_TIMEOUT" as const,
      "DELETE" as const,
      "GROUP_DELETE" as const,
      "METER_DELETE" as const,
      "EVICTION" as const,
    ),
    tableId: u8,
    durationSec: u32,
    durationNsec: u32,
    idleTimeout: u16,
    hardTimeout: u16,
    packetCount: u64,
    byteCount: u64,
    match: arbMatch,
  }),
  fc.record({
    type: fc.constant("GROUP_MOD" as const),
    xid,
    command: fc.constantFrom("ADD" as const, "MODIFY" as const, "DELETE" as const),
    groupType,
    groupId: u32,
    buckets: fc.array(bucket, { maxLength: 3 }),
  }),
  fc.record({
    type: fc.constant("MULTIPART_REQUEST" as const),
    xid,
    flags: u16,
    body: fc.oneof(
      fc.record({ kind: fc.constant("FLOW" as const), ...filter }),
      fc.record({ kind: fc.constant("AGGREGATE" as const), ...filter }),
      fc.record({ kind: fc.constant("GROUP" as const), groupId: u32 }),
      fc.constant({ kind: "GROUP_DESC" as const }),
    ),
  }),
  fc.record({
    type: fc.constant("MULTIPART_REPLY" as const),
    xid,
    flags: u16,
    body: fc.oneof(
      fc.record({
        kind: fc.constant("FLOW" as const),
        stats: fc.array(
          fc.record({
            tableId: u8,
            durationSec: u32,
            durationNsec: u32,
            priority: u16,
            idleTimeout: u16,
            hardTimeout: u16,
            flags: u16,
            cookie: u64,
            packetCount: u64,
            byteCount: u64,
            match: arbMatch,
            instructions,
          }),
          { maxLength: 3 },
        ),
      }),
      fc.record({
        kind: fc.constant("AGGREGATE" as const),
        packetCount: u64,
        byteCount: u64,
        flowCount: u32,
      }),
      fc.record({
        kind: fc.constant("GROUP" as const),
        stats: fc.array(
          fc.record({
            groupId: u32,
            refCount: u32,
            packetCount: u64,
            byteCount: u64,
            durationSec: u32,
            durationNsec: u32,
            buckets: fc.array(fc.record({ packetCount: u64, byteCount: u64 }), { maxLength: 3 }),
          }),
          { maxLength: 3 },
        ),
      }),
      fc.record({
        kind: fc.constant("GROUP_DESC" as const),
        groups: fc.array(
          fc.record({ groupType, groupId: u32, buckets: fc.array(bucket, { maxLength: 3 }) }),
          { maxLength: 3 },
        ),
      }),
    ),
  }),
];
