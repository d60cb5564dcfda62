import type * as Api from "../../contract/controller-api/types.ts";
import { formatDpid } from "../../contract/dataplane/index.ts";
import type { Cluster } from "../model/cluster.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { Member } from "../model/member.ts";

/** A member as the API answers it (contract/controller-api): the dpid as 16 hex digits (a u64 does not fit a JSON number). */
export function memberView(m: Member): Api.Member {
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

export function clusterView(c: Cluster): Api.Cluster {
  return { id: c.id, vni: c.vni, tunnel: c.tunnel, description: c.description };
}

export function clusterStateView(s: ClusterState): Api.ClusterWithMembers {
  return { ...clusterView(s.cluster), members: s.members.map(memberView) };
}
