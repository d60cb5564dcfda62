import { VmInitError } from "./errors.ts";
import { ipv4ToU32, parseIpv4, u32ToIpv4 } from "./ipv4.ts";

export const MAX_VNI = 0xffffff;

/**
 * The OpenFlow datapath id vm-init gives a member's icbr0:
 *
 *     dpid = (vni << 32) | vint0 IPv4 address as an unsigned 32-bit number
 *
 * so the controller tells which cluster and which member a switch is from its FEATURES_REPLY
 * alone (`parseDatapathId`), before any other exchange, and a migrated VM, whose vint0 does not
 * change, comes back with the same dpid. The VNI takes 24 of the upper 32 bits; the top byte
 * stays zero. Example: VNI 42, vint0 198.18.0.1 -> 0x0000002a_c6120001.
 *
 * `vint0Ipv4` may carry a prefix (`198.18.0.1/24`); only the address counts.
 */
export function datapathIdFor(vni: number, vint0Ipv4: string): bigint {
  if (!Number.isInteger(vni) || vni < 1 || vni > MAX_VNI) {
    throw new VmInitError("INVALID_ARGUMENT", `datapathIdFor: vni ${vni} is out of range 1..${MAX_VNI}`);
  }
  const address = parseIpv4(vint0Ipv4.replace(/\/\d{1,2}$/, ""));
  if (address === undefined) {
    throw new VmInitError("INVALID_ARGUMENT", `datapathIdFor: "${vint0Ipv4}" is not an IPv4 address`);
  }
  return (BigInt(vni) << 32n) | BigInt(ipv4ToU32(address));
}

/** The inverse of `datapathIdFor`. */
export function parseDatapathId(dpid: bigint): { vni: number; vint0Ipv4: string } {
  return { vni: Number((dpid >> 32n) & 0xffffffffn), vint0Ipv4: u32ToIpv4(Number(dpid & 0xffffffffn)) };
}

/** 16 hex digits, the form OVS takes in other-config:datapath-id and reports in datapath_id. */
export function datapathIdHex(dpid: bigint): string {
  return dpid.toString(16).padStart(16, "0");
}
