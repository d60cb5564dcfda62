import { IcsdnError } from "../errors/index.ts";
import { ipv4ToU32, isCanonicalIpv4 } from "./ipv4.ts";

/**
 * The MAC address of a member's vint0, derived from its vint0 address alone:
 *
 *     02:1c:a:b:c:d   for vint0 a.b.c.d (hex bytes)
 *
 * Part of the data-plane contract because peers' ARP caches hold it: a moved member's new
 * instance must answer to the MAC its old one had, or every peer keeps sending frames whose
 * destination MAC vint0's kernel discards (the rules forward on IP; the kernel filters on MAC)
 * until its neighbour entry is re-resolved (tens of seconds for a REACHABLE entry). Derived from
 * the same address the dpid names, every instance of a member gets the same MAC without being
 * told, in any cloud, on every boot. Locally administered (0x02 bit), unicast (0x01 bit clear);
 * unique within a cluster because vint0 addresses are. `vint0` may carry a prefix.
 * Example: 198.18.0.11 -> 02:1c:c6:12:00:0b.
 */
export function vint0MacFor(vint0: string): string {
  const address = vint0.replace(/\/\d{1,2}$/, "");
  if (!isCanonicalIpv4(address)) {
    throw new IcsdnError("INVALID_ARGUMENT", `vint0MacFor: "${vint0}" is not an IPv4 address`, {
      field: "vint0",
    });
  }
  const n = ipv4ToU32(address);
  const bytes = [
    VINT0_MAC_PREFIX[0],
    VINT0_MAC_PREFIX[1],
    n >>> 24,
    (n >>> 16) & 0xff,
    (n >>> 8) & 0xff,
    n & 0xff,
  ];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The first two bytes of every derived vint0 MAC: locally administered, unicast. */
export const VINT0_MAC_PREFIX = [0x02, 0x1c] as const;
