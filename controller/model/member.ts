import { datapathIdFor, type Ipv4 } from "../../contract/dataplane/index.ts";
import { fieldPath } from "../errors.ts";
import type { Cluster } from "./cluster.ts";
import { parseHostIpv4 } from "./ipv4.ts";

/** What a caller says about a member; the cluster supplies the rest. */
export interface MemberInput {
  readonly vmId: string;
  /** The VM's static cluster address on vint0: what applications use, never changes. */
  readonly vint0: Ipv4;
  /** Where peers send tunnel packets for this VM (its underlay or floating address); null if unknown. */
  readonly endpoint: Ipv4 | null;
  readonly description: string;
}

/** A VM in a cluster. Its switch is recognised by `dpid` alone, which VNI and vint0 determine. */
export interface Member extends MemberInput {
  readonly clusterId: string;
  readonly dpid: bigint;
  /**
   * Where the member is about to move (announced before its rebind): peers already accept tunnel
   * packets from it, so the rebind itself only switches where they send. Null when none.
   */
  readonly nextEndpoint: Ipv4 | null;
}

/** What the route schema S.memberInput lets through (also as each member of a cluster's creation). */
export interface MemberBody {
  readonly vmId: string;
  readonly vint0: string;
  readonly endpoint?: string | null;
  readonly description?: string;
}

/** The schema has checked the shape; the addresses get the host rules and their canonical form. */
export function memberInput(body: MemberBody, prefix = ""): MemberInput {
  return {
    vmId: body.vmId,
    vint0: parseHostIpv4(body.vint0, fieldPath(prefix, "vint0")),
    endpoint: parseEndpoint(body.endpoint, fieldPath(prefix, "endpoint")),
    description: body.description ?? "",
  };
}

/** An endpoint may be absent or null (not known yet), else a host IPv4 address. */
export function parseEndpoint(value: unknown, field: string): Ipv4 | null {
  return value === undefined || value === null ? null : parseHostIpv4(value, field);
}

export function memberOf(
  cluster: Pick<Cluster, "id" | "vni">,
  input: MemberInput,
  nextEndpoint: Ipv4 | null = null,
): Member {
  return {
    clusterId: cluster.id,
    vmId: input.vmId,
    vint0: input.vint0,
    endpoint: input.endpoint,
    description: input.description,
    dpid: datapathIdFor(cluster.vni, input.vint0),
    nextEndpoint,
  };
}
