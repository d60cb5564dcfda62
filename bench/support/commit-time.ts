import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import type { ControllerProcess } from "../../lab/controller-lab.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import { MediationMetrics } from "../../mediation/metrics.ts";
import type { ControllerPort } from "../../mediation/ports/controller.ts";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import { ClusterCoordinator, commitMs } from "../../mediation/runner/cluster-coordinator.ts";
import { MigrationRunner } from "../../mediation/runner/runner.ts";
import { type OvsSwitch, startOvsSwitch } from "../../test/controller/openflow/support/ovs-switch.ts";
import { MemoryCloud } from "./memory-cloud.ts";

/** Each round's cluster gets a VNI of its own (a cluster whose removal failed keeps its VNI). */
let nextVni = 5000;

export interface CommitRound {
  /** Commit start -> last rebind answer, as the coordinator reports it. */
  readonly commitMs: number;
  /** Commit start -> the first member's rebind request sent (the coordinator's and journal's share). */
  readonly firstRequestMs: number;
  /** Commit start -> the last member's rebind request sent. */
  readonly lastRequestMs: number;
  /** Commit start -> the last rebind answer read by the runner. */
  readonly lastAnswerMs: number;
  /** The slowest rebind at the controller, request received -> every switch confirmed (its updateMs; the cluster's lock wait included). */
  readonly maxUpdateMs: number;
  /** The least time any member's rebind request followed its new switch's connection (the switch's settle). */
  readonly minSettleMs: number;
  /** Batch rebinds sent (1 in the batch mode; 0 when each member's rebind went on its own). */
  readonly batches: number;
}

/**
 * One atomic cluster migration of `size` members by the real runner and coordinator, against the
 * real controller process `ctl`, every member's new switch a real OVS (private daemons, the
 * member's dpid) that connects when its migration announces the new endpoint, as a booting VM's
 * would. The clouds are in memory (MemoryCloud): they answer at once, and the commit (every
 * member's rebind, all cut at once) touches only the controller. Returns the commit's timings.
 * `batch: false` gives the coordinator a controller port without batch rebinds (the commit as it
 * was before them: each member's rebind its own request).
 */
export async function timeCommit(
  ctl: ControllerProcess,
  size: number,
  tag: string,
  options: { batch?: boolean } = {},
): Promise<CommitRound> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-bench-commit-"));
  const journal = Journal.open(join(dir, "mediation.db"));
  const clusterId = `commit-${tag}`;
  const vni = nextVni++;
  const clouds = {
    "mem-a": new MemoryCloud("mem-a", "192.0.2"),
    "mem-b": new MemoryCloud("mem-b", "198.51.100"),
  };
  const members = Array.from({ length: size }, (_, i) => {
    const vmId = `${clusterId}-m${i + 1}`;
    const vint0 = `10.80.0.${i + 1}`;
    const { fip } = clouds["mem-a"].addServer(vmId);
    return { vmId, vint0, endpoint: fip };
  });
  const dpidOf = new Map(members.map((m) => [m.vmId, datapathIdFor(vni, m.vint0)]));
  const switches: OvsSwitch[] = [];
  const port = new ControllerClientPort({ url: ctl.url, token: readFileSync(ctl.tokenFile, "utf8").trim() });
  // The real port, its rebind calls timed: where the commit's time goes.
  const calls: { sent: number; answered: number }[] = [];
  let batches = 0;
  /** When each member's new switch connected, as its last session ask said. */
  const switchConnectedAt = new Map<string, number>();
  const settles: number[] = [];
  const controller: ControllerPort = {
    findMember: (vmId) => port.findMember(vmId),
    clusterMembers: (id) => port.clusterMembers(id),
    announce: (id, vmId, endpoint) => port.announce(id, vmId, endpoint),
    withdraw: (id, vmId) => port.withdraw(id, vmId),
    switchSession: async (id, vmId) => {
      const session = await port.switchSession(id, vmId);
      if (session?.connected) switchConnectedAt.set(vmId, Date.now() - (session.connectedForMs ?? 0));
      return session;
    },
    ready: () => port.ready(),
    rebind: async (id, vmId, endpoint) => {
      const sent = Date.now();
      settles.push(sent - (switchConnectedAt.get(vmId) ?? Number.NaN));
      await port.rebind(id, vmId, endpoint);
      calls.push({ sent, answered: Date.now() });
    },
    // Without it (the single mode), the coordinator sends each member's rebind on its own, as
    // before batch rebinds existed: the controller takes them one at a time under the cluster's lock.
    ...(options.batch !== false && {
      rebindBatch: async (id: string, rebinds: readonly { vmId: string; endpoint: string }[]) => {
        const sent = Date.now();
        batches++;
        for (const r of rebinds) settles.push(sent - (switchConnectedAt.get(r.vmId) ?? Number.NaN));
        await port.rebindBatch(id, rebinds);
        for (const _ of rebinds) calls.push({ sent, answered: Date.now() });
      },
    }),
  };
  const metrics = new MediationMetrics(() => journal.unfinished().length);
  const cloud = (name: string) => clouds[name as keyof typeof clouds];
  const runner = new MigrationRunner({
    journal,
    cloud,
    controller,
    linkChecker: undefined,
    metrics,
    options: { switchDeadlineMs: 60_000 },
  });
  const coordinator = new ClusterCoordinator({
    journal,
    runner,
    controller,
    cloud,
    cloudNames: () => Object.keys(clouds),
    metrics,
  });
  runner.events.on("event", (migrationId, e) => {
    if (e.type !== "announced") return;
    const member = journal.get(migrationId)!.member;
    switches.push(startOvsSwitch({ dpid: dpidOf.get(member)!, target: `tcp:127.0.0.1:${ctl.openflowPort}` }));
  });
  try {
    await ctl.client.createCluster({ id: clusterId, vni, tunnel: "vxlan", members });
    const started = await coordinator.start({
      cluster: clusterId,
      target: { cloud: "mem-b" },
      mode: "atomic",
      maxParallel: size,
    });
    await coordinator.idle();
    await runner.idle();
    const done = journal.clusters.get(started.id)!;
    const ms = commitMs(done);
    if (done.status !== "succeeded" || ms === null)
      throw new Error(`commit bench, ${size} members: ${done.status} ${JSON.stringify(done.error)}`);
    const updates = await Promise.all(
      members.map(
        async (m) => (await ctl.client.listRebinds(clusterId, m.vmId)).at(-1)?.updateMs ?? Number.NaN,
      ),
    );
    const at = (t: number) => t - done.commitStartedAt!;
    return {
      commitMs: ms,
      firstRequestMs: at(Math.min(...calls.map((c) => c.sent))),
      lastRequestMs: at(Math.max(...calls.map((c) => c.sent))),
      lastAnswerMs: at(Math.max(...calls.map((c) => c.answered))),
      maxUpdateMs: Math.max(...updates),
      minSettleMs: Math.min(...settles),
      batches,
    };
  } finally {
    for (const s of switches) s.stop();
    // Members first, then the cluster.
    for (const m of members) await ctl.client.removeMember(clusterId, m.vmId).catch(() => undefined);
    await ctl.client.deleteCluster(clusterId).catch(() => undefined);
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
