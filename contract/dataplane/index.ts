export { datapathIdFor, formatDpid, splitDatapathId } from "./dpid.ts";
export {
  formatCidr,
  type Ipv4,
  type Ipv4Cidr,
  inSubnet,
  ipv4ToU32,
  isCanonicalIpv4,
  isNetworkOrBroadcast,
  parseIpv4,
  parseIpv4Cidr,
  subnetsOverlap,
  u32ToIpv4,
} from "./ipv4.ts";
export { VINT0_MAC_PREFIX, vint0MacFor } from "./mac.ts";
export { ENC0_PORT, VINT0_PORT } from "./ports.ts";
export { TUNNEL_TYPES, type TunnelType, VNI_MAX, VNI_MIN } from "./tunnel.ts";
