import type { TunnelType } from "../../contract/dataplane/index.ts";
import { fieldPath } from "../errors.ts";
import { asRecord, parseDescription, parseSlug, parseTunnel, parseVni } from "./fields.ts";

/** A group of VMs that share one private network (their vint0s) over tunnels with one VNI. */
export interface Cluster {
  readonly id: string;
  /** Tunnel key (VXLAN VNI / GRE key) of every packet between members; unique across clusters. */
  readonly vni: number;
  /** What enc0 is on every member; vm-init builds it, the controller's rules are the same for both. */
  readonly tunnel: TunnelType;
  readonly description: string;
}

/** Validates a cluster's own fields (not its members) from untrusted input. */
export function parseCluster(value: unknown, prefix = ""): Cluster {
  const body = asRecord(value, prefix);
  return {
    id: parseSlug(body.id, fieldPath(prefix, "id")),
    vni: parseVni(body.vni, fieldPath(prefix, "vni")),
    tunnel: parseTunnel(body.tunnel, fieldPath(prefix, "tunnel")),
    description: parseDescription(body.description, fieldPath(prefix, "description")),
  };
}
