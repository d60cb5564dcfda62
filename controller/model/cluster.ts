import type { TunnelType } from "../../contract/dataplane/index.ts";

/** A group of VMs that share one private network (their vint0s) over tunnels with one VNI. */
export interface Cluster {
  readonly id: string;
  /** Tunnel key (VXLAN VNI / GRE key) of every packet between members; unique across clusters. */
  readonly vni: number;
  /** What enc0 is on every member; vm-init builds it, the controller's rules are the same for both. */
  readonly tunnel: TunnelType;
  readonly description: string;
}
