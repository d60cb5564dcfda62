import { IcsdnError } from "../errors/index.ts";
import { type Ipv4, ipv4ToU32, isCanonicalIpv4, u32ToIpv4 } from "./ipv4.ts";
import { VNI_MAX, VNI_MIN } from "./tunnel.ts";

/**
 * The OpenFlow datapath id vm-init gives a member's icbr0 and the controller recognises it by:
 *
 *     dpid = (vni << 32) | vint0 IPv4 address as an unsigned 32-bit number
 *
 * so the controller tells which cluster and which member a switch is from its FEATURES_REPLY
 * alone, before any other exchange, and a migrated VM, whose vint0 does not change, comes back
 * with the same dpid. The VNI takes 24 of the upper 32 bits; the top byte stays zero.
 * Example: VNI 42, vint0 198.18.0.1 -> 0x0000002a_c6120001.
 *
 * `vint0` may carry a prefix (`198.18.0.1/24`); only the address counts.
 */
export function datapathIdFor(vni: number, vint0: string): bigint {
  if (!Number.isInteger(vni) || vni < VNI_MIN || vni > VNI_MAX) {
    throw new IcsdnError(
      "INVALID_ARGUMENT",
      `datapathIdFor: vni ${vni} is out of range ${VNI_MIN}..${VNI_MAX}`,
      {
        field: "vni",
      },
    );
  }
  const address = vint0.replace(/\/\d{1,2}$/, "");
  if (!isCanonicalIpv4(address)) {
    throw new IcsdnError("INVALID_ARGUMENT", `datapathIdFor: "${vint0}" is not an IPv4 address`, {
      field: "vint0",
    });
  }
  return (BigInt(vni) << 32n) | BigInt(ipv4ToU32(address));
}

/** The inverse of datapathIdFor: which cluster (by VNI) and which member (by vint0) a switch is. */
export function splitDatapathId(dpid: bigint): { vni: number; vint0: Ipv4 } {
  return { vni: Number((dpid >> 32n) & 0xffffffffn), vint0: u32ToIpv4(Number(dpid & 0xffffffffn)) };
}

/** 16 lowercase hex digits, as `ovs-ofctl show` prints and OVS's other-config:datapath-id takes. */
export function formatDpid(dpid: bigint): string {
  return dpid.toString(16).padStart(16, "0");
}
