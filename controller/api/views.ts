import { formatDpid } from "../../contract/dataplane/index.ts";
import type { Cluster } from "../model/cluster.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { Member } from "../model/member.ts";

/** A member as JSON: the dpid as 16 hex digits (a u64 does not fit a JSON number). */
export interface MemberView {
  readonly clusterId: string;
  readonly vmId: string;
  readonly vint0: string;
  readonly endpoint: string | null;
  readonly nextEndpoint: string | null;
  readonly dpid: string;
  readonly description: string;
}

export function memberView(m: Member): MemberView {
  return {
    clusterId: m.clusterId,
    vmId: m.vmId,
    vint0: m.vint0,
    endpoint: m.endpoint,
    nextEndpoint: m.nextEndpoint,
    dpid: formatDpid(m.dpid),
    description: m.description,
  };
}

export function clusterView(c: Cluster): Cluster {
  return { id: c.id, vni: c.vni, tunnel: c.tunnel, description: c.description };
}

export function clusterStateView(s: ClusterState): Cluster & { members: MemberView[] } {
  return { ...clusterView(s.cluster), members: s.members.map(memberView) };
}
