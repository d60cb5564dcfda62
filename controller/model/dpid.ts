import { type Ipv4, ipv4ToU32, u32ToIpv4 } from "./ipv4.ts";

// vm-init/config.ts is to export the same function (contract: (vni << 32) | vint0 as u32); it did not
// exist yet when this was written. The lead unifies the two; until then both must stay identical.
/** The OpenFlow datapath id a member's icbr0 uses: VNI in bits 55..32, vint0 in bits 31..0. */
export function datapathIdFor(vni: number, vint0Ipv4: Ipv4): bigint {
  return (BigInt(vni) << 32n) | BigInt(ipv4ToU32(vint0Ipv4));
}

/** Inverse of datapathIdFor: which cluster (by VNI) and which member (by vint0) a switch is. */
export function splitDatapathId(dpid: bigint): { vni: number; vint0: Ipv4 } {
  return { vni: Number(dpid >> 32n), vint0: u32ToIpv4(Number(dpid & 0xffffffffn)) };
}

/** 16 lowercase hex digits, as `ovs-ofctl show` prints and `other-config:datapath-id` takes. */
export function formatDpid(dpid: bigint): string {
  return dpid.toString(16).padStart(16, "0");
}
