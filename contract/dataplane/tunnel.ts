/** What enc0 is on every member of a cluster: vm-init builds it, the controller's rules fit both. */
export const TUNNEL_TYPES = ["vxlan", "gre"] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];

/** A cluster's tunnel key (VXLAN VNI / GRE key) range. */
export const VNI_MIN = 1;
/** 24 bits: the VXLAN VNI width (GRE keys are 32 bits, so the smaller range fits both). */
export const VNI_MAX = 0xffffff;
