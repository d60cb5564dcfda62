/**
 * Moving a whole OpenStack cluster to another cloud through the mediation service by ONE request
 * (`POST /v1/cluster-migrations`, atomic), while a probe mesh runs: each member's new instance
 * gets a probe node as soon as its server exists (before its rebind), and its cutover moments
 * (announce, rebind) are handed to the mesh.
 */

import { setTimeout as sleep } from "node:timers/promises";
import type { CloudEntry, OpenStackCluster } from "../lab/openstack/cluster.ts";
import type { ProbeMesh } from "../lab/probe-mesh-run.ts";
import type { ClusterMigrationView } from "../mediation/api/cluster-views.ts";
import type { MigrationView } from "../mediation/api/views.ts";
import type { MediationClient, SseEvent } from "../mediation/client.ts";
import { type Followed, followMigration } from "../mediation/follow.ts";

export interface MemberMove {
  readonly member: string;
  readonly migrationId: string;
  readonly view: MigrationView;
  readonly followed: Followed;
}

export interface ClusterMove {
  readonly members: readonly MemberMove[];
  /** The cluster migration as it ended (its `commitMs` is the cluster's update time). */
  readonly cluster: ClusterMigrationView;
  /** From the request to the last member's end (s). */
  readonly wallS: number;
}

/**
 * Moves the cluster by one request, following every member's migration as it starts; on success
 * the cluster's members point at their new servers. `onEvent` sees every member's events.
 * Members prepare `maxParallel` at a time (default 1).
 * The cluster's key pair and group need nothing here: the cluster migration creates them once in
 * the target before its members prepare.
 */
export async function moveCluster(
  client: MediationClient,
  cluster: OpenStackCluster,
  target: CloudEntry,
  opts: {
    mesh?: ProbeMesh;
    onEvent?: (member: string, e: SseEvent, at: number) => void;
    maxParallel?: number;
  } = {},
): Promise<ClusterMove> {
  const t0 = Date.now();
  const started = await client.createCluster({
    cluster: cluster.id,
    target: { cloud: target },
    mode: "atomic",
    maxParallel: opts.maxParallel ?? 1,
    members: cluster.members.map((m) => ({ member: m.name, source: { cloud: m.cloud }, vmInit: m.vmInit })),
  });
  const follows = new Map<string, Promise<MemberMove>>();
  // Later members' migrations exist only once they start: follow each as soon as it has an id.
  for (let view = started; ; view = await client.getCluster(started.id)) {
    for (const m of view.members)
      if (m.migrationId && !follows.has(m.member)) follows.set(m.member, follow(m.member, m.migrationId));
    if (follows.size === cluster.members.length || view.status !== "running") break;
    await sleep(200);
  }
  const members = await Promise.all(follows.values());
  let final = await client.getCluster(started.id);
  while (final.status === "running" || final.status === "rolling_back") {
    await sleep(200);
    final = await client.getCluster(started.id);
  }
  return { members, cluster: final, wallS: (Date.now() - t0) / 1000 };

  async function follow(member: string, migrationId: string): Promise<MemberMove> {
    let attached: Promise<number> | undefined;
    const followed = await followMigration(client, migrationId, {
      onTargetServer: (id) => {
        attached = opts.mesh?.attach(member, cluster.netnsOf(id));
        // Awaited after the move; a failure there must not be an unhandled rejection meanwhile.
        attached?.catch(() => undefined);
      },
      onEvent: (e, at) => opts.onEvent?.(member, e, at),
    });
    const announced = followed.seen.get("announced");
    const rebound = followed.seen.get("rebound");
    if (followed.view.status === "succeeded" && followed.targetServerId && announced) {
      cluster.moved(member, target, followed.targetServerId, String(announced.data.endpoint));
      if (attached && rebound) opts.mesh?.cutover(member, await attached, announced.at, rebound.at);
    }
    return { member, migrationId, view: followed.view, followed };
  }
}
