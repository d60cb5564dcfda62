import type { Ipv4, TunnelType } from "../../contract/dataplane/index.ts";
import { invalidField } from "../errors.ts";
import { type Cluster, parseCluster } from "./cluster.ts";
import { asRecord, parseDescription, parseSlug, parseTunnel, parseVni } from "./fields.ts";
import { parseHostIpv4 } from "./ipv4.ts";
import { type MemberInput, parseEndpoint, parseMemberInput } from "./member.ts";

/**
 * Members a cluster may have, whether created at once or added one by one. Each switch holds about
 * four rules per peer, so a 5,000-member cluster is 20,000 rules per switch and 100 million in
 * all; bench/controller-scale.bench.ts measures the controller at this size (README, Scale).
 */
export const MAX_CLUSTER_MEMBERS = 5_000;
/** A linking time above an hour is a broken clock, not a measurement. */
export const MAX_LINKING_MS = 3_600_000;

/** A cluster, optionally with its first members, created together or not at all. */
export interface ClusterCreateInput {
  readonly cluster: Cluster;
  readonly members: readonly MemberInput[];
}

export function parseClusterCreate(value: unknown): { cluster: Cluster; members: MemberInput[] } {
  const body = asRecord(value, "");
  const cluster = parseCluster(body);
  if (body.members === undefined) return { cluster, members: [] };
  if (!Array.isArray(body.members) || body.members.length > MAX_CLUSTER_MEMBERS) {
    throw invalidField("members", `must be an array of at most ${MAX_CLUSTER_MEMBERS} members`);
  }
  return { cluster, members: body.members.map((m, i) => parseMemberInput(m, `members[${i}]`)) };
}

/** Fields a cluster update may name; only the description may differ from the stored value. */
export interface ClusterPatch {
  readonly description?: string;
  readonly vni?: number;
  readonly tunnel?: TunnelType;
}

export function parseClusterPatch(value: unknown): ClusterPatch {
  const body = asRecord(value, "");
  return {
    ...(body.description !== undefined && { description: parseDescription(body.description, "description") }),
    ...(body.vni !== undefined && { vni: parseVni(body.vni, "vni") }),
    ...(body.tunnel !== undefined && { tunnel: parseTunnel(body.tunnel, "tunnel") }),
  };
}

/** Fields a member update may name; vint0 is immutable and endpoints change only by rebind. */
export interface MemberPatch {
  readonly description?: string;
  readonly vint0?: Ipv4;
  readonly endpoint?: Ipv4 | null;
}

export function parseMemberPatch(value: unknown): MemberPatch {
  const body = asRecord(value, "");
  return {
    ...(body.description !== undefined && { description: parseDescription(body.description, "description") }),
    ...(body.vint0 !== undefined && { vint0: parseHostIpv4(body.vint0, "vint0") }),
    ...("endpoint" in body && { endpoint: parseEndpoint(body.endpoint, "endpoint") }),
  };
}

/** A rebind's or a next-endpoint announcement's input: where the member runs (next). */
export interface RebindInput {
  readonly endpoint: Ipv4;
}

/**
 * The route schema has checked the body's shape (an object with one IPv4 string); what remains
 * is the address rule a schema cannot say (no loopback, multicast...), and its canonical form.
 */
export function rebindInput(body: { readonly endpoint: string }): RebindInput {
  return { endpoint: parseHostIpv4(body.endpoint, "endpoint") };
}

export interface LinkingReportInput {
  readonly clusterId: string;
  readonly vmId: string;
  readonly linkingMs: number;
}

export function parseLinkingReport(value: unknown): LinkingReportInput {
  const body = asRecord(value, "");
  const linkingMs = body.linkingMs;
  if (
    typeof linkingMs !== "number" ||
    !Number.isFinite(linkingMs) ||
    linkingMs < 0 ||
    linkingMs > MAX_LINKING_MS
  ) {
    throw invalidField("linkingMs", `must be a number of milliseconds in 0..${MAX_LINKING_MS}`);
  }
  return {
    clusterId: parseSlug(body.clusterId, "clusterId"),
    vmId: parseSlug(body.vmId, "vmId"),
    linkingMs,
  };
}
