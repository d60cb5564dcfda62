import { ProtoError } from "./errors.ts";
import {
  formatIpv4,
  formatIpv6,
  formatMac,
  macInto,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "./wire/addresses.ts";
import type { Reader } from "./wire/reader.ts";
import type { Writer } from "./wire/writer.ts";

/** ofp_oxm_class values we name. */
export const OFPXMC = { NXM_0: 0x0000, NXM_1: 0x0001, OPENFLOW_BASIC: 0x8000, EXPERIMENTER: 0xffff } as const;
/** ofp_match_type: OXM is the only one OpenFlow 1.3 uses. */
export const OFPMT_OXM = 1;
/** The VLAN_VID bit saying a VLAN tag is present (ofp_vlan_id). */
export const OFPVID_PRESENT = 0x1000;

/** How a field's value is written: an unsigned integer of n bytes, or an address. */
export type OxmValueKind = "u8" | "u16" | "u24" | "u32" | "u64" | "mac" | "ipv4" | "ipv6";

interface OxmFieldSpec {
  readonly oxmClass: number;
  readonly oxmField: number;
  readonly kind: OxmValueKind;
  /** Whether the OpenFlow 1.3.5 spec (table 12) allows a mask. */
  readonly maskable: boolean;
  /** Meaningful bits when fewer than the wire width (VLAN_VID is 12 + OFPVID_PRESENT). */
  readonly bits?: number;
}

const B = OFPXMC.OPENFLOW_BASIC;
const NX = OFPXMC.NXM_1;

/** Every field we name: OpenFlow 1.3 basic fields (ids 0..39) and the Nicira tunnel endpoints. */
export const OXM_FIELDS = {
  IN_PORT: { oxmClass: B, oxmField: 0, kind: "u32", maskable: false },
  IN_PHY_PORT: { oxmClass: B, oxmField: 1, kind: "u32", maskable: false },
  METADATA: { oxmClass: B, oxmField: 2, kind: "u64", maskable: true },
  ETH_DST: { oxmClass: B, oxmField: 3, kind: "mac", maskable: true },
  ETH_SRC: { oxmClass: B, oxmField: 4, kind: "mac", maskable: true },
  ETH_TYPE: { oxmClass: B, oxmField: 5, kind: "u16", maskable: false },
  VLAN_VID: { oxmClass: B, oxmField: 6, kind: "u16", maskable: true, bits: 13 },
  VLAN_PCP: { oxmClass: B, oxmField: 7, kind: "u8", maskable: false, bits: 3 },
  IP_DSCP: { oxmClass: B, oxmField: 8, kind: "u8", maskable: false, bits: 6 },
  IP_ECN: { oxmClass: B, oxmField: 9, kind: "u8", maskable: false, bits: 2 },
  IP_PROTO: { oxmClass: B, oxmField: 10, kind: "u8", maskable: false },
  IPV4_SRC: { oxmClass: B, oxmField: 11, kind: "ipv4", maskable: true },
  IPV4_DST: { oxmClass: B, oxmField: 12, kind: "ipv4", maskable: true },
  TCP_SRC: { oxmClass: B, oxmField: 13, kind: "u16", maskable: false },
  TCP_DST: { oxmClass: B, oxmField: 14, kind: "u16", maskable: false },
  UDP_SRC: { oxmClass: B, oxmField: 15, kind: "u16", maskable: false },
  UDP_DST: { oxmClass: B, oxmField: 16, kind: "u16", maskable: false },
  SCTP_SRC: { oxmClass: B, oxmField: 17, kind: "u16", maskable: false },
  SCTP_DST: { oxmClass: B, oxmField: 18, kind: "u16", maskable: false },
  ICMPV4_TYPE: { oxmClass: B, oxmField: 19, kind: "u8", maskable: false },
  ICMPV4_CODE: { oxmClass: B, oxmField: 20, kind: "u8", maskable: false },
  ARP_OP: { oxmClass: B, oxmField: 21, kind: "u16", maskable: false },
  ARP_SPA: { oxmClass: B, oxmField: 22, kind: "ipv4", maskable: true },
  ARP_TPA: { oxmClass: B, oxmField: 23, kind: "ipv4", maskable: true },
  ARP_SHA: { oxmClass: B, oxmField: 24, kind: "mac", maskable: true },
  ARP_THA: { oxmClass: B, oxmField: 25, kind: "mac", maskable: true },
  IPV6_SRC: { oxmClass: B, oxmField: 26, kind: "ipv6", maskable: true },
  IPV6_DST: { oxmClass: B, oxmField: 27, kind: "ipv6", maskable: true },
  IPV6_FLABEL: { oxmClass: B, oxmField: 28, kind: "u32", maskable: true, bits: 20 },
  ICMPV6_TYPE: { oxmClass: B, oxmField: 29, kind: "u8", maskable: false },
  ICMPV6_CODE: { oxmClass: B, oxmField: 30, kind: "u8", maskable: false },
  IPV6_ND_TARGET: { oxmClass: B, oxmField: 31, kind: "ipv6", maskable: false },
  IPV6_ND_SLL: { oxmClass: B, oxmField: 32, kind: "mac", maskable: false },
  IPV6_ND_TLL: { oxmClass: B, oxmField: 33, kind: "mac", maskable: false },
  MPLS_LABEL: { oxmClass: B, oxmField: 34, kind: "u32", maskable: false, bits: 20 },
  MPLS_TC: { oxmClass: B, oxmField: 35, kind: "u8", maskable: false, bits: 3 },
  MPLS_BOS: { oxmClass: B, oxmField: 36, kind: "u8", maskable: false, bits: 1 },
  PBB_ISID: { oxmClass: B, oxmField: 37, kind: "u24", maskable: true },
  TUNNEL_ID: { oxmClass: B, oxmField: 38, kind: "u64", maskable: true },
  IPV6_EXTHDR: { oxmClass: B, oxmField: 39, kind: "u16", maskable: true, bits: 9 },
  TUN_IPV4_SRC: { oxmClass: NX, oxmField: 31, kind: "ipv4", maskable: true },
  TUN_IPV4_DST: { oxmClass: NX, oxmField: 32, kind: "ipv4", maskable: true },
} as const satisfies Record<string, OxmFieldSpec>;

export type OxmFieldName = keyof typeof OXM_FIELDS;

type ValueOfKind<K extends OxmValueKind> = K extends "u64"
  ? bigint
  : K extends "mac" | "ipv4" | "ipv6"
    ? string
    : number;
/** A field's value type: number up to 32 bits, bigint for 64, text for MAC/IPv4/IPv6. */
export type OxmValue<N extends OxmFieldName> = ValueOfKind<(typeof OXM_FIELDS)[N]["kind"]>;

/**
 * One known match field. `mask` uses the value's type ("255.255.255.0", 0xff00, ...). The type
 * allows a mask on every field because switches report masks beyond the spec's (OVS masks L4
 * ports); the encoder still refuses a mask where the spec forbids one (`OXM_FIELDS[f].maskable`).
 */
export type KnownOxmField = {
  [N in OxmFieldName]: { field: N; value: OxmValue<N>; mask?: OxmValue<N> };
}[OxmFieldName];

/** A field we do not name (other NXM or experimenter fields), kept raw so it round-trips. */
export interface UnknownOxmField {
  field: "UNKNOWN";
  oxmClass: number;
  oxmField: number;
  hasMask: boolean;
  /** The payload as on the wire: value then mask when `hasMask`; experimenter id first for class 0xffff. */
  value: Uint8Array;
}

export type OxmField = KnownOxmField | UnknownOxmField;

/** The one field an OFPAT_SET_FIELD action writes: never masked in OpenFlow 1.3. */
export type SetFieldOxm =
  | { [N in OxmFieldName]: { field: N; value: OxmValue<N> } }[OxmFieldName]
  | (UnknownOxmField & { hasMask: false });

/** The table in the shape the hot paths use: wire header words precomputed. */
interface FieldInfo {
  readonly name: OxmFieldName;
  readonly kind: OxmValueKind;
  readonly width: number;
  readonly maskable: boolean;
  /** Largest value (and mask) for number kinds. */
  readonly max: number;
  readonly header: number;
  readonly maskedHeader: number;
  readonly maskWhat: string;
}

const WIDTH: Record<OxmValueKind, number> = {
  u8: 1,
  u16: 2,
  u24: 3,
  u32: 4,
  u64: 8,
  mac: 6,
  ipv4: 4,
  ipv6: 16,
};

const byName = new Map<string, FieldInfo>();
/** Keyed by the header's top 23 bits, class << 7 | field. */
const byClassField = new Map<number, FieldInfo>();
for (const [name, s] of Object.entries(OXM_FIELDS) as [OxmFieldName, OxmFieldSpec][]) {
  const width = WIDTH[s.kind];
  const bits = s.bits ?? width * 8;
  const top = s.oxmClass * 0x10000 + s.oxmField * 0x200;
  const info: FieldInfo = {
    name,
    kind: s.kind,
    width,
    maskable: s.maskable,
    max: bits >= 32 ? 0xffffffff : 2 ** bits - 1,
    header: top + width,
    maskedHeader: top + 0x100 + 2 * width,
    maskWhat: `${name} mask`,
  };
  byName.set(name, info);
  byClassField.set(s.oxmClass * 0x80 + s.oxmField, info);
}

/** Scratch for MAC encoding: Writer.bytes copies it at once, so one buffer serves every call. */
const scratch = new Uint8Array(16);

function writeValue(w: Writer, f: FieldInfo, v: unknown, what: string): void {
  switch (f.kind) {
    case "u8":
    case "u16":
    case "u24":
    case "u32": {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > f.max) {
        throw new ProtoError("BAD_VALUE", `${what}: ${String(v)} is not an integer in 0..${f.max}`, w.offset);
      }
      if (f.kind === "u8") w.u8(v, what);
      else if (f.kind === "u16") w.u16(v, what);
      else if (f.kind === "u32") w.u32(v, what);
      else w.u8(v >>> 16, what).u16(v & 0xffff, what);
      return;
    }
    case "u64":
      w.u64(v as bigint, what);
      return;
    case "ipv4":
      w.u32(parseIpv4(v as string, what, w.offset), what);
      return;
    case "mac":
      macInto(v as string, scratch, 0, what, w.offset);
      w.bytes(scratch.subarray(0, 6));
      return;
    case "ipv6":
      w.bytes(parseIpv6(v as string, what, w.offset));
      return;
  }
}

function readValue(r: Reader, f: FieldInfo, what: string): number | bigint | string {
  const at = r.offset;
  let v: number;
  switch (f.kind) {
    case "u8":
      v = r.u8(what);
      break;
    case "u16":
      v = r.u16(what);
      break;
    case "u24":
      v = r.u8(what) * 0x10000 + r.u16(what);
      break;
    case "u32":
      v = r.u32(what);
      break;
    case "u64":
      return r.u64(what);
    case "ipv4":
      return formatIpv4(r.u32(what));
    case "mac":
      r.skip(6, what);
      return formatMac(r.bytes, at);
    case "ipv6":
      r.skip(16, what);
      return formatIpv6(r.bytes, at);
  }
  if (v > f.max) throw new ProtoError("BAD_VALUE", `${what}: ${v} is over ${f.max}`, at);
  return v;
}

/** Writes one OXM TLV. `allowMask` is false inside SET_FIELD. */
export function encodeOxm(w: Writer, o: OxmField, allowMask = true): void {
  if (o.field === "UNKNOWN") {
    if (o.hasMask && !allowMask) {
      throw new ProtoError("BAD_FIELD", "set_field: a set_field OXM cannot have a mask", w.offset);
    }
    if (o.value.length === 0) {
      throw new ProtoError("BAD_LENGTH", `OXM ${o.oxmClass}:${o.oxmField}: empty payload`, w.offset);
    }
    if (o.value.length > 0xff) {
      throw new ProtoError(
        "TOO_LONG",
        `OXM ${o.oxmClass}:${o.oxmField}: payload of ${o.value.length} bytes`,
        w.offset,
      );
    }
    w.u16(o.oxmClass, "oxmClass")
      .u8(checkedFieldId(o.oxmField, w.offset) * 2 + (o.hasMask ? 1 : 0))
      .u8(o.value.length)
      .bytes(o.value);
    return;
  }
  const f = byName.get(o.field);
  if (!f) throw new ProtoError("BAD_FIELD", `unknown OXM field '${String(o.field)}'`, w.offset);
  if (o.mask === undefined) {
    w.u32(f.header);
    writeValue(w, f, o.value, f.name);
    return;
  }
  if (!allowMask) {
    throw new ProtoError("BAD_FIELD", `set_field ${f.name}: a set_field OXM cannot have a mask`, w.offset);
  }
  if (!f.maskable) {
    throw new ProtoError("BAD_FIELD", `${f.name} is not maskable in OpenFlow 1.3`, w.offset);
  }
  const at = w.offset;
  w.u32(f.maskedHeader);
  writeValue(w, f, o.value, f.name);
  writeValue(w, f, o.mask, f.maskWhat);
  if (outsideMask(f, o.value, o.mask)) {
    throw new ProtoError("BAD_VALUE", `${f.name}: value has 1-bits where the mask is 0`, at);
  }
}

/**
 * Whether a (validated) value sets bits its mask wildcards: the spec has switches refuse such a
 * match (OFPBMC_BAD_WILDCARDS), and it usually means the rule is not the one intended.
 */
function outsideMask(f: FieldInfo, v: unknown, m: unknown): boolean {
  switch (f.kind) {
    case "u64":
      return ((v as bigint) & ~(m as bigint)) !== 0n;
    case "ipv4":
      return (parseIpv4(v as string) & ~parseIpv4(m as string)) !== 0;
    case "mac":
    case "ipv6": {
      const parse = f.kind === "mac" ? parseMac : parseIpv6;
      const vb = parse(v as string);
      const mb = parse(m as string);
      for (let i = 0; i < vb.length; i++) if ((vb[i]! & ~mb[i]!) !== 0) return true;
      return false;
    }
    default:
      return ((v as number) & ~(m as number)) !== 0;
  }
}

function checkedFieldId(id: number, at: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0x7f) {
    throw new ProtoError("BAD_VALUE", `oxmField: ${id} is not an integer in 0..127`, at);
  }
  return id;
}

/**
 * Reads one OXM TLV that must end by `end` (an absolute offset). A known field must have exactly
 * its width (twice with a mask), else BAD_FIELD; a zero-length payload is never valid.
 */
export function decodeOxm(r: Reader, end: number, allowMask = true): OxmField {
  const at = r.offset;
  if (end - at < 4) throw new ProtoError("BAD_LENGTH", `OXM header needs 4 bytes, ${end - at} left`, at);
  const header = r.u32("OXM header");
  const len = header & 0xff;
  const hasMask = (header & 0x100) !== 0;
  if (len === 0) throw new ProtoError("BAD_LENGTH", "OXM payload length 0", at);
  if (len > end - at - 4) {
    throw new ProtoError(
      "BAD_LENGTH",
      `OXM payload length ${len} runs past its match (${end - at - 4} left)`,
      at,
    );
  }
  if (hasMask && !allowMask) throw new ProtoError("BAD_FIELD", "a set_field OXM cannot have a mask", at);
  const f = byClassField.get(header >>> 9);
  if (!f) {
    if (hasMask && len % 2 !== 0) throw new ProtoError("BAD_LENGTH", `masked OXM with odd length ${len}`, at);
    return {
      field: "UNKNOWN",
      oxmClass: header >>> 16,
      oxmField: (header >>> 9) & 0x7f,
      hasMask,
      value: r.bytesCopy(len, "OXM payload"),
    };
  }
  if (len !== (hasMask ? 2 * f.width : f.width)) {
    throw new ProtoError(
      "BAD_FIELD",
      `${f.name}${hasMask ? " (masked)" : ""}: OXM length ${len}, expected ${hasMask ? 2 * f.width : f.width}`,
      at,
    );
  }
  const value = readValue(r, f, f.name);
  if (!hasMask) return { field: f.name, value } as KnownOxmField;
  const mask = readValue(r, f, f.maskWhat);
  const bytes = r.bytes;
  for (let i = at + 4, w = f.width; i < at + 4 + w; i++) {
    if ((bytes[i]! & ~bytes[i + w]!) !== 0) {
      throw new ProtoError("BAD_VALUE", `${f.name}: value has 1-bits where the mask is 0`, at);
    }
  }
  return { field: f.name, value, mask } as KnownOxmField;
}

/** The OXM of a SET_FIELD action: one field, no mask. */
export function encodeSetFieldOxm(w: Writer, o: SetFieldOxm): void {
  encodeOxm(w, o as OxmField, false);
}
export function decodeSetFieldOxm(r: Reader, end: number): SetFieldOxm {
  return decodeOxm(r, end, false) as SetFieldOxm;
}

/** ofp_match: type OXM, length (without padding), the TLVs, zero padding to 8 bytes. */
export function encodeMatch(w: Writer, match: readonly OxmField[]): void {
  const start = w.offset;
  w.u16(OFPMT_OXM).u16(0);
  for (let i = 0; i < match.length; i++) encodeOxm(w, match[i]!);
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", `match of ${len} bytes`, start);
  w.patchU16(start + 2, len);
  w.padTo(8, start);
}

/** Reads an ofp_match and its padding. The match must fit in the reader's window. */
export function decodeMatch(r: Reader): OxmField[] {
  const at = r.offset;
  const type = r.u16("match type");
  const len = r.u16("match length");
  if (type !== OFPMT_OXM) throw new ProtoError("BAD_TYPE", `match type ${type} is not OXM (1)`, at);
  if (len < 4) throw new ProtoError("BAD_LENGTH", `match length ${len} < 4`, at + 2);
  const padded = (len + 7) & ~7;
  if (padded - 4 > r.remaining) {
    throw new ProtoError("BAD_LENGTH", `match length ${len} runs past its container`, at + 2);
  }
  const end = at + len;
  const fields: OxmField[] = [];
  while (r.offset < end) fields.push(decodeOxm(r, end));
  r.skip(padded - len, "match padding");
  return fields;
}
