import { ProtoError } from "../errors.ts";

/**
 * Address text <-> wire bytes. Parsers are strict (a typo in a rule must not become a different
 * address) and name the field in their error; formatters give one canonical text per address,
 * so decoded values compare equal to what a caller wrote in canonical form.
 */

const HEX2: string[] = [];
for (let i = 0; i < 256; i++) HEX2.push(i.toString(16).padStart(2, "0"));

function bad(what: string, text: unknown, kind: string, at: number): ProtoError {
  return new ProtoError("BAD_VALUE", `${what}: '${String(text)}' is not ${kind}`, at);
}

/** The value of one hex digit char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses "aa:bb:cc:dd:ee:ff" (either case) into `out` at `offset`; no allocation, for hot paths. */
export function macInto(text: string, out: Uint8Array, offset: number, what: string, at = 0): void {
  if (typeof text !== "string" || text.length !== 17) throw bad(what, text, "a MAC address", at);
  for (let i = 0; i < 6; i++) {
    const p = i * 3;
    const hi = hexDigit(text.charCodeAt(p));
    const lo = hexDigit(text.charCodeAt(p + 1));
    if (hi < 0 || lo < 0 || (i < 5 && text.charCodeAt(p + 2) !== 58)) {
      throw bad(what, text, "a MAC address", at);
    }
    out[offset + i] = (hi << 4) | lo;
  }
}

/** "aa:bb:cc:dd:ee:ff" -> 6 bytes. */
export function parseMac(text: string, what = "MAC address", at = 0): Uint8Array {
  const out = new Uint8Array(6);
  macInto(text, out, 0, what, at);
  return out;
}

/** 6 bytes at `offset` -> lowercase "aa:bb:cc:dd:ee:ff". */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  return `${HEX2[bytes[offset]!]}:${HEX2[bytes[offset + 1]!]}:${HEX2[bytes[offset + 2]!]}:${
    HEX2[bytes[offset + 3]!]
  }:${HEX2[bytes[offset + 4]!]}:${HEX2[bytes[offset + 5]!]}`;
}

/**
 * Dotted quad -> u32. Leading zeros are refused: "010" reads as octal to some tools and
 * decimal to others, so it has no single meaning.
 */
export function parseIpv4(text: string, what = "IPv4 address", at = 0): number {
  if (typeof text !== "string") throw bad(what, text, "an IPv4 address", at);
  const n = text.length;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || octet > 255) throw bad(what, text, "an IPv4 address", at);
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      if (i < n) dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) throw bad(what, text, "an IPv4 address (no leading zeros)", at);
      octet = octet * 10 + (c - 48);
      if (++digits > 3) throw bad(what, text, "an IPv4 address", at);
    } else {
      throw bad(what, text, "an IPv4 address", at);
    }
  }
  if (dots !== 3) throw bad(what, text, "an IPv4 address", at);
  return value;
}

/** u32 -> dotted quad. */
export function formatIpv4(v: number): string {
  return `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Dotted quad -> 4 bytes. */
export function ipv4ToBytes(text: string, what = "IPv4 address", at = 0): Uint8Array {
  const v = parseIpv4(text, what, at);
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** 4 bytes at `offset` -> dotted quad. */
export function bytesToIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]!}.${bytes[offset + 1]!}.${bytes[offset + 2]!}.${bytes[offset + 3]!}`;
}

/**
 * IPv6 text (RFC 4291: hex groups, one "::", an optional dotted-quad tail) -> 16 bytes.
 * Zone ids ("%eth0") are refused: they are not part of an address on the wire.
 */
export function parseIpv6(text: string, what = "IPv6 address", at = 0): Uint8Array {
  if (typeof text !== "string" || text.length < 2 || text.length > 45) {
    throw bad(what, text, "an IPv6 address", at);
  }
  const words: number[] = [];
  let gap = -1; // index in `words` where "::" stands
  let i = 0;
  const n = text.length;
  if (text.startsWith("::")) {
    gap = 0;
    i = 2;
  } else if (text.charCodeAt(0) === 58) {
    throw bad(what, text, "an IPv6 address", at);
  }
  while (i < n) {
    // A dotted quad may only end the address and stands for the last two words.
    const nextColon = text.indexOf(":", i);
    const group = nextColon < 0 ? text.slice(i) : text.slice(i, nextColon);
    if (nextColon < 0 && group.includes(".")) {
      const v4 = parseIpv4(group, what, at);
      words.push(v4 >>> 16, v4 & 0xffff);
      i = n;
      break;
    }
    if (group.length === 0 || group.length > 4) throw bad(what, text, "an IPv6 address", at);
    let w = 0;
    for (let k = 0; k < group.length; k++) {
      const d = hexDigit(group.charCodeAt(k));
      if (d < 0) throw bad(what, text, "an IPv6 address", at);
      w = (w << 4) | d;
    }
    words.push(w);
    if (nextColon < 0) {
      i = n;
      break;
    }
    i = nextColon + 1;
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) throw bad(what, text, "an IPv6 address (two '::')", at);
      gap = words.length;
      i++;
    } else if (i >= n) {
      throw bad(what, text, "an IPv6 address", at); // a single trailing ':'
    }
  }
  if (words.length > 8 || (gap >= 0 ? words.length > 7 : words.length !== 8)) {
    throw bad(what, text, "an IPv6 address", at);
  }
  const out = new Uint8Array(16);
  const tail = gap >= 0 ? words.length - gap : 0;
  for (let k = 0; k < words.length; k++) {
    const slot = gap >= 0 && k >= gap ? 8 - tail + (k - gap) : k;
    out[slot * 2] = words[k]! >>> 8;
    out[slot * 2 + 1] = words[k]! & 0xff;
  }
  return out;
}

/**
 * 16 bytes at `offset` -> RFC 5952 text: lowercase, no leading zeros, the longest run (first if
 * tied) of two or more zero words as "::", and IPv4-mapped addresses as "::ffff:a.b.c.d".
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const words = new Array<number>(8);
  for (let k = 0; k < 8; k++) words[k] = (bytes[offset + 2 * k]! << 8) | bytes[offset + 2 * k + 1]!;
  if (
    words[0] === 0 &&
    words[1] === 0 &&
    words[2] === 0 &&
    words[3] === 0 &&
    words[4] === 0 &&
    words[5] === 0xffff
  ) {
    return `::ffff:${bytesToIpv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero word is not compressed
  for (let k = 0; k < 8; ) {
    if (words[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && words[end] === 0) end++;
    if (end - k > bestLen) {
      bestStart = k;
      bestLen = end - k;
    }
    k = end;
  }
  let s = "";
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += "::";
      k += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(":")) s += ":";
    s += words[k]!.toString(16);
  }
  return s;
}
