import type { Ipv4, TunnelType } from "../../contract/dataplane/index.ts";
import { invalidField } from "../errors.ts";
import { type Cluster, parseCluster } from "./cluster.ts";
import { asRecord, parseDescription, parseSlug, parseTunnel, parseVni } from "./fields.ts";
import { parseHostIpv4 } from "./ipv4.ts";
import { type MemberInput, parseEndpoint, parseMemberInput } from "./member.ts";

/** Members one create request may carry: far above any cluster we expect, far below a memory problem. */
export const MAX_MEMBERS_PER_REQUEST = 1024;
/** A linking time above an hour is a broken clock, not a measurement. */
export const MAX_LINKING_MS = 3_600_000;

/** A cluster, optionally with its first members, created together or not at all. */
export function parseClusterCreate(value: unknown): { cluster: Cluster; members: MemberInput[] } {
  const body = asRecord(value, "");
  const cluster = parseCluster(body);
  if (body.members === undefined) return { cluster, members: [] };
  if (!Array.isArray(body.members) || body.members.length > MAX_MEMBERS_PER_REQUEST) {
    throw invalidField("members", `must be an array of at most ${MAX_MEMBERS_PER_REQUEST} members`);
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

export function parseRebind(value: unknown): { endpoint: Ipv4 } {
  const body = asRecord(value, "");
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
