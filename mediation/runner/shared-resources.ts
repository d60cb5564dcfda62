import type { CloudDriver, SecurityGroup } from "../clouds/cloud-driver.ts";
import type { ClusterJournal } from "../journal/cluster-journal.ts";
import type { SharedResource } from "../model/cluster.ts";
import type { MigrationRequest } from "../model/migration.ts";
import { type MemberNeed, planSharedResources } from "../planner/shared-resources.ts";

export interface SharedDeps {
  readonly clusters: ClusterJournal;
  readonly cloud: (name: string) => CloudDriver;
  /** A cluster event (each shared resource created or deleted). */
  readonly event: (type: string, data: Record<string, unknown>) => void;
}

/**
 * Before its members prepare: creates once, in each target cloud, the security groups and key
 * pairs the members' servers name and the target lacks, journaled as the cluster's (a member's own
 * security step then finds and reuses them). A group is marked created only once its rules are in:
 * one left `creating` by a crash or a failure is deleted by name first, then planned anew.
 */
export async function createShared(
  deps: SharedDeps,
  clusterMigrationId: string,
  members: readonly MigrationRequest[],
): Promise<void> {
  const j = deps.clusters;
  for (const r of j.sharedResources(clusterMigrationId))
    if (r.state === "creating") await deleteShared(deps, clusterMigrationId, r);
  const needs: MemberNeed[] = [];
  const sourceGroups = new Map<string, readonly SecurityGroup[]>();
  const targetGroups = new Map<string, readonly SecurityGroup[]>();
  const targetKeyPairs = new Map<string, Set<string>>();
  for (const m of members) {
    const source = deps.cloud(m.sourceCloud);
    const target = deps.cloud(m.targetCloud);
    // A server gone since the plan: its member's own pre-check says so.
    const server = await source.findServer(m.server);
    if (!server) continue;
    needs.push({
      sourceCloud: m.sourceCloud,
      targetCloud: m.targetCloud,
      securityGroups: server.securityGroups,
      keyName: server.keyName,
    });
    if (!sourceGroups.has(m.sourceCloud)) sourceGroups.set(m.sourceCloud, await source.listSecurityGroups());
    if (!targetGroups.has(m.targetCloud)) targetGroups.set(m.targetCloud, await target.listSecurityGroups());
    const has = targetKeyPairs.get(m.targetCloud) ?? new Set<string>();
    targetKeyPairs.set(m.targetCloud, has);
    if (server.keyName !== undefined && !has.has(server.keyName) && (await target.hasKeyPair(server.keyName)))
      has.add(server.keyName);
  }
  for (const plan of planSharedResources(needs, { sourceGroups, targetGroups, targetKeyPairs })) {
    const target = deps.cloud(plan.cloud);
    const ids = new Map((targetGroups.get(plan.cloud) ?? []).map((g) => [g.name, g.id]));
    const made: [number, string][] = [];
    for (const g of plan.groups) {
      const seq = j.intendShared(clusterMigrationId, {
        cloud: plan.cloud,
        kind: "security_group",
        name: g.name,
      });
      await j.durable();
      const groupId = await target.createSecurityGroup(g.name, g.description);
      ids.set(g.name, groupId);
      made.push([seq, groupId]);
    }
    // Rules after every group exists: a rule may admit another new group by name.
    for (const g of plan.groups) await target.addSecurityGroupRules(ids.get(g.name)!, g.rules, ids);
    for (const [[seq, groupId], g] of made.map((x, i) => [x, plan.groups[i]!] as const)) {
      j.sharedCreated(clusterMigrationId, seq, groupId);
      deps.event("shared_created", { cloud: plan.cloud, kind: "security_group", name: g.name, id: groupId });
    }
    for (const k of plan.keyPairs) {
      const key = await deps.cloud(k.sourceCloud).getKeyPairPublicKey(k.name);
      if (!key) continue;
      const seq = j.intendShared(clusterMigrationId, { cloud: plan.cloud, kind: "keypair", name: k.name });
      await j.durable();
      await target.importKeyPair(k.name, key);
      j.sharedCreated(clusterMigrationId, seq, k.name);
      deps.event("shared_created", { cloud: plan.cloud, kind: "keypair", name: k.name });
    }
  }
}

/** Deletes one shared resource (by name when the journal never got its id) and journals it deleted. */
export async function deleteShared(
  deps: SharedDeps,
  clusterMigrationId: string,
  r: SharedResource,
): Promise<void> {
  const target = deps.cloud(r.cloud);
  const ids = r.id !== null ? [r.id] : await target.lookupByName(r.kind, r.name);
  for (const id of ids) {
    if (r.kind === "security_group") await target.deleteSecurityGroup(id);
    else await target.deleteKeyPair(id);
  }
  deps.clusters.sharedDeleted(clusterMigrationId, r.seq);
  deps.event("shared_deleted", { cloud: r.cloud, kind: r.kind, name: r.name });
}
