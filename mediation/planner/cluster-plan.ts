import type { Flavor, Quotas } from "../clouds/cloud-driver.ts";
import type { Problem } from "./precheck.ts";

/** One member as discovered and pre-checked alone (the shell's findings; problems already name the member's fields). */
export interface MemberFacts {
  readonly member: string;
  readonly server: string;
  readonly sourceCloud: string | undefined;
  readonly targetCloud: string;
  readonly targetNetwork: string;
  readonly sourceFlavor: string | undefined;
  readonly flavor: Flavor | undefined;
  readonly imageBytes: number | undefined;
  readonly securityGroups: readonly string[];
  /** The target's groups by name: used as they are, or created with the source's rules. */
  readonly securityGroupMapping: { readonly reuse: readonly string[]; readonly create: readonly string[] };
  readonly floatingIp: string | null;
  readonly problems: readonly Problem[];
}

/** What past migrations of this service measured (the journal): the transfer's rate, the rest's time. */
export interface ObservedRates {
  readonly bytesPerSecond: number;
  /** A migration's seconds outside the transfer (snapshot, boot, network setup, release). */
  readonly overheadSeconds: number;
  readonly samples: number;
}

export interface PlannedMember {
  readonly member: string;
  readonly server: string;
  readonly source: { readonly cloud: string | null };
  readonly target: { readonly cloud: string; readonly network: string };
  readonly flavor: { readonly source: string | null; readonly target: string | null };
  readonly imageBytes: number | null;
  readonly securityGroups: readonly string[];
  readonly securityGroupMapping: { readonly reuse: readonly string[]; readonly create: readonly string[] };
  readonly floatingIp: string | null;
  readonly predicted: { readonly bytes: number | null; readonly seconds: number | null };
}

export interface ClusterPlan {
  readonly members: readonly PlannedMember[];
  readonly predicted: { readonly bytes: number | null; readonly seconds: number | null };
  readonly problems: readonly Problem[];
}

/** Rates from finished migrations: total bytes over total transfer seconds, mean overhead. */
export function observedRates(
  samples: readonly { bytes: number; transferSeconds: number; totalSeconds: number }[],
): ObservedRates | undefined {
  const usable = samples.filter((s) => s.bytes > 0 && s.transferSeconds > 0 && s.totalSeconds > 0);
  if (usable.length === 0) return undefined;
  const bytes = usable.reduce((n, s) => n + s.bytes, 0);
  const transfer = usable.reduce((n, s) => n + s.transferSeconds, 0);
  const overhead = usable.reduce((n, s) => n + Math.max(0, s.totalSeconds - s.transferSeconds), 0);
  return {
    bytesPerSecond: bytes / transfer,
    overheadSeconds: overhead / usable.length,
    samples: usable.length,
  };
}

/**
 * The whole cluster's plan and every problem at once: each member's own, plus what only the
 * cluster shows: quotas for all members together in each target cloud, two members with one
 * server name in a target, a name the target already holds. Predictions from observed rates
 * (capped by the shared bandwidth); the whole's seconds assume the transfers share one stream's
 * rate (what a single service process measured), so they are an upper bound for parallel runs.
 */
export function planCluster(input: {
  readonly members: readonly MemberFacts[];
  readonly quotas: ReadonlyMap<string, Quotas>;
  /** Server names each target cloud already holds. */
  readonly targetServerNames: ReadonlyMap<string, ReadonlySet<string>>;
  readonly observed: ObservedRates | undefined;
  readonly bandwidthBytesPerSecond: number | undefined;
}): ClusterPlan {
  const problems: Problem[] = input.members.flatMap((m) => m.problems);
  const rate =
    input.observed === undefined
      ? undefined
      : Math.min(input.observed.bytesPerSecond, input.bandwidthBytesPerSecond ?? Number.POSITIVE_INFINITY);
  const seconds = (bytes: number | undefined) =>
    bytes === undefined || rate === undefined || input.observed === undefined
      ? null
      : round1(input.observed.overheadSeconds + bytes / rate);

  const byTarget = new Map<string, MemberFacts[]>();
  for (const m of input.members) byTarget.set(m.targetCloud, [...(byTarget.get(m.targetCloud) ?? []), m]);
  for (const [cloud, members] of byTarget) {
    const taken = input.targetServerNames.get(cloud) ?? new Set<string>();
    const seen = new Map<string, string>();
    for (const m of members) {
      if (taken.has(m.server)) {
        problems.push({
          field: `members[${m.member}].server`,
          message: `cloud '${cloud}' already holds a server named '${m.server}'`,
        });
      }
      const other = seen.get(m.server);
      if (other !== undefined) {
        problems.push({
          field: `members[${m.member}].server`,
          message: `members '${other}' and '${m.member}' would both create server '${m.server}' in cloud '${cloud}'`,
        });
      } else seen.set(m.server, m.member);
    }
    const q = input.quotas.get(cloud);
    if (!q) continue;
    const need = {
      instances: members.length,
      floatingIps: members.length,
      cores: members.reduce((n, m) => n + (m.flavor?.vcpus ?? 0), 0),
      ramMb: members.reduce((n, m) => n + (m.flavor?.ramMb ?? 0), 0),
    };
    const check = (name: string, quota: { limit: number; used: number }, n: number) => {
      if (quota.limit >= 0 && quota.limit - quota.used < n) {
        problems.push({
          field: "target.cloud",
          message: `cloud '${cloud}': quota of ${name} exceeded for the cluster (${quota.used} of ${quota.limit} used, ${n} more needed for ${members.length} members)`,
        });
      }
    };
    check("instances", q.instances, need.instances);
    check("floating IPs", q.floatingIps, need.floatingIps);
    check("cores", q.cores, need.cores);
    check("RAM (MB)", q.ramMb, need.ramMb);
  }

  const members = input.members.map(
    (m): PlannedMember => ({
      member: m.member,
      server: m.server,
      source: { cloud: m.sourceCloud ?? null },
      target: { cloud: m.targetCloud, network: m.targetNetwork },
      flavor: { source: m.sourceFlavor ?? null, target: m.flavor?.name ?? null },
      imageBytes: m.imageBytes ?? null,
      securityGroups: m.securityGroups,
      securityGroupMapping: m.securityGroupMapping,
      floatingIp: m.floatingIp,
      predicted: { bytes: m.imageBytes ?? null, seconds: seconds(m.imageBytes) },
    }),
  );
  const sizes = input.members.map((m) => m.imageBytes);
  const allKnown = sizes.every((b) => b !== undefined);
  const total = allKnown ? sizes.reduce<number>((n, b) => n + (b ?? 0), 0) : undefined;
  return { members, predicted: { bytes: total ?? null, seconds: seconds(total) }, problems };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
