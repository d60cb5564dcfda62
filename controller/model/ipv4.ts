import { Address4 } from "ip-address";
import type { Ipv4 } from "../../contract/dataplane/index.ts";
import { invalidField } from "../errors.ts";

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
