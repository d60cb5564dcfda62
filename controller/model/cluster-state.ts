import type { Ipv4 } from "../../contract/dataplane/index.ts";
import { ControllerError, fieldPath } from "../errors.ts";
import type { Cluster } from "./cluster.ts";
import type { Member } from "./member.ts";

/** A cluster and all its members: everything the flow compiler needs. */
export interface ClusterState {
  readonly cluster: Cluster;
  readonly members: readonly Member[];
}

/**
 * Refuses a member list with two members sharing a vmId, a vint0 or an endpoint. A shared
 * endpoint would make tunnel sources ambiguous (ingress filters by tun_src), so it is a conflict
 * too; next endpoints are tunnel sources peers accept, so they count as endpoints (a member's
 * next endpoint also differs from its current one). `pathOf(i)` names member i in errors
 * ("members[2]", or "" for a single new member).
 */
export function checkMemberConflicts(members: readonly Member[], pathOf: (index: number) => string): void {
  const conflict = (i: number, key: string, value: Ipv4 | string, other: number, what: string) => {
    const field = fieldPath(pathOf(i), key);
    throw new ControllerError(
      "CONFLICT",
      `${field}: ${value} is already the ${what} of member '${members[other]!.vmId}'`,
      {
        field,
        details: { conflictsWith: members[other]!.vmId },
      },
    );
  };
  // Announced next endpoints first: only members already stored have them, so a conflict with a
  // new member is reported on the new member's endpoint.
  const next = new Map<Ipv4, number>();
  members.forEach((m, i) => {
    if (m.nextEndpoint === null) return;
    const other = next.get(m.nextEndpoint);
    if (other !== undefined) conflict(i, "nextEndpoint", m.nextEndpoint, other, "next endpoint");
    next.set(m.nextEndpoint, i);
  });
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
      if (other !== undefined) conflict(i, key, value, other, key);
      if (key === "endpoint") {
        const announcer = next.get(value);
        if (announcer !== undefined) conflict(i, key, value, announcer, "next endpoint");
      }
      seen[key].set(value, i);
    }
  });
}

/**
 * checkMemberConflicts(members plus `added`, () => "") when `members` are conflict-free already
 * (a stored cluster): the same refusal, in one pass and without building maps of every member
 * (an add to 5,000 members would otherwise build four maps of 5,000 entries each time).
 */
export function checkAddedMember(members: readonly Member[], added: Member): void {
  const holder = (has: (m: Member) => boolean) => members.find(has);
  const refuse = (key: string, value: string, other: Member, what: string): never => {
    throw new ControllerError(
      "CONFLICT",
      `${key}: ${value} is already the ${what} of member '${other.vmId}'`,
      {
        field: key,
        details: { conflictsWith: other.vmId },
      },
    );
  };
  const sameVm = holder((m) => m.vmId === added.vmId);
  if (sameVm) refuse("vmId", added.vmId, sameVm, "vmId");
  const sameVint0 = holder((m) => m.vint0 === added.vint0);
  if (sameVint0) refuse("vint0", added.vint0, sameVint0, "vint0");
  const { endpoint } = added;
  if (endpoint === null) return;
  const sameEndpoint = holder((m) => m.endpoint === endpoint);
  if (sameEndpoint) refuse("endpoint", endpoint, sameEndpoint, "endpoint");
  const announcer = holder((m) => m.nextEndpoint === endpoint);
  if (announcer) refuse("endpoint", endpoint, announcer, "next endpoint");
}

export function findMember(state: ClusterState, vmId: string): Member | undefined {
  return state.members.find((m) => m.vmId === vmId);
}

/** The state with one member's fields replaced (pure; the member must exist). */
export function replaceMember(
  state: ClusterState,
  vmId: string,
  patch: Partial<Pick<Member, "endpoint" | "nextEndpoint" | "description">>,
): ClusterState {
  return { ...state, members: state.members.map((m) => (m.vmId === vmId ? { ...m, ...patch } : m)) };
}
