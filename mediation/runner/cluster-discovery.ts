import type { CloudDriver, Quotas } from "../clouds/cloud-driver.ts";
import type { Journal } from "../journal/journal.ts";
import type { ClusterMode, ClusterRequest } from "../model/cluster.ts";
import type { MigrationRequest } from "../model/migration.ts";
import { mbpsToBytesPerSecond } from "../model/token-bucket.ts";
import { type ClusterPlan, type MemberFacts, observedRates, planCluster } from "../planner/cluster-plan.ts";
import type { Problem } from "../planner/precheck.ts";
import { planSecurityGroups } from "../planner/security.ts";
import type { ControllerMember, ControllerPort } from "../ports/controller.ts";
import type { MigrationRunner } from "./runner.ts";

/** A per-member override of the discovered plan. */
export interface MemberOverride {
  readonly member: string;
  readonly server?: string;
  readonly source?: { readonly cloud: string };
  readonly target?: { readonly cloud: string; readonly network?: string };
  readonly flavor?: string;
  /** The member's vm-init user-data for its target server (the API renders it from `vmInit`). */
  readonly userData?: string;
}

/** What a caller asks of a cluster migration (the API's body, user-data already rendered). */
export interface ClusterMigrationInput {
  readonly cluster: string;
  readonly target: { readonly cloud: string; readonly network?: string };
  readonly mode: ClusterMode;
  readonly maxParallel?: number;
  readonly maxInTransit?: number;
  readonly bandwidthMbps?: number;
  readonly members?: readonly MemberOverride[];
}

export interface DiscoveryDeps {
  readonly controller: ControllerPort;
  readonly cloud: (name: string) => CloudDriver;
  /** The clouds of clouds.yaml, searched in order for each member's floating IP. */
  readonly cloudNames: () => readonly string[];
  readonly runner: MigrationRunner;
  readonly journal: Journal;
}

const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Discovers every member of the cluster (the controller knows each one's endpoint, its floating
 * IP; the server holding it is looked up in the configured clouds), pre-checks each one alone,
 * then the whole (planner/cluster-plan.ts). Creates nothing.
 */
export async function discoverCluster(
  deps: DiscoveryDeps,
  input: ClusterMigrationInput,
): Promise<{ plan: ClusterPlan; request: ClusterRequest }> {
  const limits = {
    cluster: input.cluster,
    mode: input.mode,
    maxParallel: input.maxParallel ?? 2,
    maxInTransit: input.maxInTransit ?? 1,
    bandwidthMbps: input.bandwidthMbps,
  };
  const empty = (problems: Problem[]) => ({
    plan: { members: [], predicted: { bytes: null, seconds: null }, problems },
    request: { ...limits, members: [] },
  });
  let members: readonly ControllerMember[] | undefined;
  try {
    members = await deps.controller.clusterMembers(input.cluster);
  } catch (err) {
    return empty([{ field: "cluster", message: `the controller cannot be asked: ${why(err)}` }]);
  }
  if (!members)
    return empty([{ field: "cluster", message: `the controller has no cluster '${input.cluster}'` }]);
  if (members.length === 0)
    return empty([{ field: "cluster", message: `cluster '${input.cluster}' has no members` }]);

  const problems: Problem[] = [];
  const overrides = new Map((input.members ?? []).map((o) => [o.member, o]));
  for (const o of overrides.keys()) {
    if (!members.some((m) => m.vmId === o))
      problems.push({
        field: `members[${o}].member`,
        message: `cluster '${input.cluster}' has no member '${o}'`,
      });
  }
  const names = deps.cloudNames();
  const facts: MemberFacts[] = [];
  const requests: { member: string; request: MigrationRequest }[] = [];
  await Promise.all(
    members.map(async (m, i) => {
      const o = overrides.get(m.vmId);
      const field = (f: string) => `members[${m.vmId}].${f}`;
      const targetCloud = o?.target?.cloud ?? input.target.cloud;
      const targetNetwork = o?.target?.network ?? input.target.network ?? "private";
      let sourceCloud = o?.source?.cloud;
      let server = o?.server;
      const own: Problem[] = [];
      if (sourceCloud === undefined || server === undefined) {
        const found = await locate(deps, names, m, sourceCloud);
        if (typeof found === "string") own.push({ field: field("source.cloud"), message: found });
        else {
          sourceCloud ??= found.cloud;
          server ??= found.serverId;
        }
      }
      const request: MigrationRequest = {
        member: m.vmId,
        server: server ?? m.vmId,
        sourceCloud: sourceCloud ?? "",
        targetCloud,
        targetNetwork,
        flavor: o?.flavor,
        dryRun: false,
        userData: o?.userData,
      };
      let flavor: MemberFacts["flavor"];
      let serverInfo: Awaited<ReturnType<MigrationRunner["precheck"]>>["serverInfo"];
      let imageBytes: number | undefined;
      let securityGroupMapping: MemberFacts["securityGroupMapping"] = { reuse: [], create: [] };
      if (sourceCloud !== undefined) {
        try {
          const checked = await deps.runner.precheck(request, { quotas: false });
          own.push(...checked.problems.map((p) => ({ field: field(p.field), message: p.message })));
          flavor = checked.flavorInfo;
          serverInfo = checked.serverInfo;
          if (serverInfo) {
            const source = deps.cloud(sourceCloud);
            if (serverInfo.imageId) imageBytes = (await source.getImage(serverInfo.imageId))?.size;
            const groups = planSecurityGroups(
              serverInfo.securityGroups,
              await source.listSecurityGroups(),
              await deps.cloud(targetCloud).listSecurityGroups(),
            );
            securityGroupMapping = { reuse: groups.reuse, create: groups.create.map((g) => g.name) };
          }
        } catch (err) {
          own.push({ field: field("source.cloud"), message: why(err) });
        }
      }
      facts[i] = {
        member: m.vmId,
        server: serverInfo?.name ?? request.server,
        sourceCloud,
        targetCloud,
        targetNetwork,
        sourceFlavor: serverInfo?.flavor.name,
        flavor,
        imageBytes,
        securityGroups: serverInfo?.securityGroups ?? [],
        securityGroupMapping,
        floatingIp: m.endpoint,
        problems: own,
      };
      // The member's migration names the server by id: names may repeat across clouds.
      requests[i] = { member: m.vmId, request: { ...request, server: serverInfo?.id ?? request.server } };
    }),
  );

  const targets = [...new Set(facts.map((f) => f.targetCloud))];
  const quotas = new Map<string, Quotas>();
  const targetServerNames = new Map<string, Set<string>>();
  await Promise.all(
    targets.map(async (cloud) => {
      try {
        const driver = deps.cloud(cloud);
        quotas.set(cloud, await driver.quotas());
        const taken = new Set<string>();
        for (const f of facts.filter((x) => x.targetCloud === cloud)) {
          if ((await driver.lookupByName("server", f.server)).length > 0) taken.add(f.server);
        }
        targetServerNames.set(cloud, taken);
      } catch (err) {
        problems.push({ field: "target.cloud", message: `cloud '${cloud}': ${why(err)}` });
      }
    }),
  );
  const plan = planCluster({
    members: facts,
    quotas,
    targetServerNames,
    observed: observedRates(deps.journal.transferSamples()),
    bandwidthBytesPerSecond:
      input.bandwidthMbps === undefined ? undefined : mbpsToBytesPerSecond(input.bandwidthMbps),
  });
  return {
    plan: { ...plan, problems: [...problems, ...plan.problems] },
    request: { ...limits, members: requests },
  };
}

/** The cloud and server that hold the member's endpoint (its floating IP). */
async function locate(
  deps: DiscoveryDeps,
  names: readonly string[],
  m: ControllerMember,
  only: string | undefined,
): Promise<{ cloud: string; serverId: string } | string> {
  if (m.endpoint === null)
    return `member '${m.vmId}' has no endpoint at the controller to find its server by`;
  const errors: string[] = [];
  for (const name of only === undefined ? names : [only]) {
    try {
      const serverId = await deps.cloud(name).serverOfFloatingIp(m.endpoint);
      if (serverId) return { cloud: name, serverId };
    } catch (err) {
      errors.push(`${name}: ${why(err)}`);
    }
  }
  const searched = only === undefined ? names.join(", ") : only;
  return `no server with floating IP ${m.endpoint} (member '${m.vmId}') in cloud(s) ${searched}${errors.length > 0 ? ` (${errors.join("; ")})` : ""}`;
}
