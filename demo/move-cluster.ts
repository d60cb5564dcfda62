/**
 * Moving a whole OpenStack cluster to another cloud through the mediation service, while a probe
 * mesh runs: each member's new instance gets a probe node as soon as its server exists (before
 * its rebind), and its cutover moments (announce, rebind) are handed to the mesh.
 *
 * `startMoves` is the only part that knows how the move is asked for: today one
 * `POST /v1/migrations` per member, all at once; the cluster call
 * (`POST /v1/cluster-migrations`, whose answer lists each member's migration id) replaces it.
 */

import { setTimeout as sleep } from "node:timers/promises";
import type { CloudEntry, OpenStackCluster } from "../lab/openstack/cluster.ts";
import type { ProbeMesh } from "../lab/probe-mesh-run.ts";
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
  /** From the request to the last member's end (s). */
  readonly wallS: number;
}

/**
 * Asks the service to move every member of `cluster` to `target`; the members' migration ids.
 * One request per member: the cluster's key pair and group are made in the target first (the
 * migrations would race to import them), and the requests go 1 s apart (four snapshots at once
 * make the lab's Nova, on SQLite, answer 500).
 */
async function startMoves(
  client: MediationClient,
  cluster: OpenStackCluster,
  target: CloudEntry,
): Promise<{ member: string; migrationId: string }[]> {
  if (cluster.members.length > 1) await cluster.prepareTarget(target);
  return Promise.all(
    cluster.members.map(async (m, i) => {
      await sleep(i * 1000);
      const view = await client.create({
        member: m.name,
        source: { cloud: m.cloud },
        target: { cloud: target },
        vmInit: m.vmInit,
      });
      return { member: m.name, migrationId: view.id };
    }),
  );
}

/**
 * Moves the cluster, following every member's migration; on success the cluster's members
 * point at their new servers. `onEvent` sees every member's events as they come.
 */
export async function moveCluster(
  client: MediationClient,
  cluster: OpenStackCluster,
  target: CloudEntry,
  opts: { mesh?: ProbeMesh; onEvent?: (member: string, e: SseEvent, at: number) => void } = {},
): Promise<ClusterMove> {
  const t0 = Date.now();
  const started = await startMoves(client, cluster, target);
  const members = await Promise.all(
    started.map(async ({ member, migrationId }) => {
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
    }),
  );
  return { members, wallS: (Date.now() - t0) / 1000 };
}
