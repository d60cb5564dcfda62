import { Address4 } from "ip-address";
import { invalidField } from "../errors.ts";

/** A dotted-quad IPv4 address in canonical form (no prefix, no leading zeros). */
export type Ipv4 = string;

/**
 * Parses a host address for a cluster IP or a tunnel endpoint. Refuses a prefix ("/24": these are
 * single hosts), and addresses no packet can be tunnelled to or from: unspecified, loopback,
 * multicast, broadcast.
 */
export function parseHostIpv4(value: unknown, field: string): Ipv4 {
  if (typeof value !== "string") throw invalidField(field, "must be an IPv4 address string");
  if (value.includes("/")) throw invalidField(field, `'${value}' has a prefix; give a single address`);
  let address: Address4;
  try {
    address = new Address4(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidField(field, `'${value}' is not an IPv4 address (${why})`);
  }
  const canonical = address.correctForm();
  if (address.isUnspecified()) throw invalidField(field, `${canonical} is the unspecified address`);
  if (address.isLoopback()) throw invalidField(field, `${canonical} is a loopback address`);
  if (address.isMulticast()) throw invalidField(field, `${canonical} is a multicast address`);
  if (address.isBroadcast()) throw invalidField(field, `${canonical} is the broadcast address`);
  return canonical;
}

/** The address as an unsigned 32-bit integer. `ip` must already be canonical. */
export function ipv4ToU32(ip: Ipv4): number {
  const parts = ip.split(".").map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export function u32ToIpv4(n: number): Ipv4 {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}
