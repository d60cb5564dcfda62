import { ControllerError, fieldPath } from "../errors.ts";
import type { Cluster } from "./cluster.ts";
import type { Ipv4 } from "./ipv4.ts";
import type { Member } from "./member.ts";

/** A cluster and all its members: everything the flow compiler needs. */
export interface ClusterState {
  readonly cluster: Cluster;
  readonly members: readonly Member[];
}

/**
 * Refuses a member list with two members sharing a vmId, a vint0 or an endpoint. A shared
 * endpoint would make tunnel sources ambiguous (ingress filters by tun_src), so it is a conflict
 * too. `pathOf(i)` names member i in errors ("members[2]", or "" for a single new member).
 */
export function checkMemberConflicts(members: readonly Member[], pathOf: (index: number) => string): void {
  const seen = {
    vmId: new Map<string, number>(),
    vint0: new Map<Ipv4, number>(),
    endpoint: new Map<Ipv4, number>(),
  };
  members.forEach((m, i) => {
    for (const key of ["vmId", "vint0", "endpoint"] as const) {
      const value = m[key];
      if (value === null) continue;
      const other = seen[key].get(value);
      if (other !== undefined) {
        const otherMember = members[other]!;
        throw new ControllerError(
          "CONFLICT",
          `${fieldPath(pathOf(i), key)}: ${value} is already the ${key} of member '${otherMember.vmId}'`,
          { field: fieldPath(pathOf(i), key), details: { conflictsWith: otherMember.vmId } },
        );
      }
      seen[key].set(value, i);
    }
  });
}

export function findMember(state: ClusterState, vmId: string): Member | undefined {
  return state.members.find((m) => m.vmId === vmId);
}

/** The state with one member's fields replaced (pure; the member must exist). */
export function replaceMember(
  state: ClusterState,
  vmId: string,
  patch: Partial<Pick<Member, "endpoint" | "description">>,
): ClusterState {
  return { ...state, members: state.members.map((m) => (m.vmId === vmId ? { ...m, ...patch } : m)) };
}
