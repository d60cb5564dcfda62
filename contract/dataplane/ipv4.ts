import { Address4 } from "ip-address";

/** A dotted-quad IPv4 address in canonical form (no prefix, no leading zeros). */
export type Ipv4 = string;

/** An IPv4 address with its prefix length, as `ip addr` holds it. */
export interface Ipv4Cidr {
  readonly address: Ipv4;
  readonly prefixLength: number;
}

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const CANONICAL = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** True if `text` is a dotted quad in canonical form (no prefix, no leading zeros). A regex: cheap enough for every stored row. */
export function isCanonicalIpv4(text: string): boolean {
  return CANONICAL.test(text);
}

/** Parses a bare dotted-quad (no prefix) to its canonical form; undefined if it is not one. Leading zeros are refused. */
export function parseIpv4(text: string): Ipv4 | undefined {
  if (text.includes("/") || !Address4.isValid(text)) return undefined;
  return new Address4(text).correctForm();
}

/** Parses `a.b.c.d/len` (the prefix is required); undefined if it is not one. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0 || !/^\d{1,2}$/.test(text.slice(slash + 1)) || !Address4.isValid(text)) return undefined;
  const a = new Address4(text);
  return { address: a.correctForm(), prefixLength: a.subnetMask };
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${c.address}/${c.prefixLength}`;
}

/**
 * The address as an unsigned 32-bit integer. `ip` must already be canonical (parseIpv4): this is
 * on the compiler's and the probes' hot paths, so it does not validate again.
 */
export function ipv4ToU32(ip: Ipv4): number {
  const parts = ip.split(".").map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export function u32ToIpv4(n: number): Ipv4 {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}

function mask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** True if `address` lies inside the subnet of `cidr`. */
export function inSubnet(address: Ipv4, cidr: Ipv4Cidr): boolean {
  const m = mask(cidr.prefixLength);
  return (ipv4ToU32(address) & m) >>> 0 === (ipv4ToU32(cidr.address) & m) >>> 0;
}

/** True if the two subnets share any address. */
export function subnetsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  const other = shorter === a ? b : a;
  return inSubnet(other.address, shorter);
}

/** The subnet's network or broadcast address, which a host cannot use (prefixes up to /30). */
export function isNetworkOrBroadcast(c: Ipv4Cidr): boolean {
  if (c.prefixLength >= 31) return false;
  const m = mask(c.prefixLength);
  const a = ipv4ToU32(c.address);
  return (a & ~m) >>> 0 === 0 || (a | ~m) >>> 0 === 0xffffffff;
}
