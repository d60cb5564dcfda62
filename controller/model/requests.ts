import type { MemberPatch } from "../../contract/controller-api/index.ts";
import type { Ipv4, TunnelType } from "../../contract/dataplane/index.ts";
import type { MemberMove } from "../compiler/transition-planner.ts";
import { invalidField } from "../errors.ts";
import type { Cluster } from "./cluster.ts";
import { parseHostIpv4 } from "./ipv4.ts";
import { type MemberBody, type MemberInput, memberInput, parseEndpoint } from "./member.ts";

// The route schemas (controller/api/schemas.ts) check each body's shape, types, patterns and
// ranges before a handler runs; what is left here is what a schema cannot say: the address rules
// (no loopback, multicast...), canonical addresses, and defaults.

/**
 * Members a cluster may have, whether created at once or added one by one. Each switch holds about
 * four rules per peer, so a 5,000-member cluster is 20,000 rules per switch and 100 million in
 * all; bench/controller-scale.bench.ts measures the controller at this size (README, Scale).
 */
export const MAX_CLUSTER_MEMBERS = 5_000;
/** A linking time above an hour is a broken clock, not a measurement. */
export const MAX_LINKING_MS = 3_600_000;

/** What the route schema S.clusterInput lets through. */
export interface ClusterCreateBody {
  readonly id: string;
  readonly vni: number;
  readonly tunnel: TunnelType;
  readonly description?: string;
  readonly members?: readonly MemberBody[];
}

/** A cluster, optionally with its first members, created together or not at all. */
export interface ClusterCreateInput {
  readonly cluster: Cluster;
  readonly members: readonly MemberInput[];
}

export function clusterCreateInput(body: ClusterCreateBody): ClusterCreateInput {
  return {
    cluster: { id: body.id, vni: body.vni, tunnel: body.tunnel, description: body.description ?? "" },
    members: (body.members ?? []).map((m, i) => memberInput(m, `members[${i}]`)),
  };
}

/** What the route schema S.memberPatch lets through. */
export interface MemberPatchBody {
  readonly description?: string;
  readonly vint0?: string;
  readonly endpoint?: string | null;
}

/** An absent endpoint (leave it) differs from an explicit null (unknown). */
export function memberPatch(body: MemberPatchBody): MemberPatch {
  return {
    ...(body.description !== undefined && { description: body.description }),
    ...(body.vint0 !== undefined && { vint0: parseHostIpv4(body.vint0, "vint0") }),
    ...("endpoint" in body && { endpoint: parseEndpoint(body.endpoint, "endpoint") }),
  };
}

/** A rebind's or a next-endpoint announcement's input: where the member runs (next). */
export interface RebindInput {
  readonly endpoint: Ipv4;
}

/** S.rebindInput has checked the body (an object with one IPv4 string). */
export function rebindInput(body: { readonly endpoint: string }): RebindInput {
  return { endpoint: parseHostIpv4(body.endpoint, "endpoint") };
}

/** What the route schema S.rebindBatchInput lets through (1..MAX_BATCH_REBINDS entries). */
export interface RebindBatchBody {
  readonly rebinds: readonly { readonly vmId: string; readonly endpoint: string }[];
}

/**
 * A batch rebind's moves, each endpoint under the address rule. A member or an endpoint listed
 * twice is refused (one move per member, one member per tunnel source), naming the later entry.
 */
export function rebindBatchInput(body: RebindBatchBody): readonly MemberMove[] {
  const vmIds = new Map<string, number>();
  const endpoints = new Map<Ipv4, number>();
  return body.rebinds.map((r, i) => {
    const endpoint = parseHostIpv4(r.endpoint, `rebinds[${i}].endpoint`);
    const twice = (field: string, value: string, first: number) =>
      invalidField(`rebinds[${i}].${field}`, `'${value}' is listed twice (rebinds[${first}] too)`);
    const sameVm = vmIds.get(r.vmId);
    if (sameVm !== undefined) throw twice("vmId", r.vmId, sameVm);
    const sameEndpoint = endpoints.get(endpoint);
    if (sameEndpoint !== undefined) throw twice("endpoint", endpoint, sameEndpoint);
    vmIds.set(r.vmId, i);
    endpoints.set(endpoint, i);
    return { vmId: r.vmId, endpoint };
  });
}

/** A linking report as S.linkingInput lets it through (slugs, 0..MAX_LINKING_MS): nothing is left to check. */
export interface LinkingReportInput {
  readonly clusterId: string;
  readonly vmId: string;
  readonly linkingMs: number;
}
