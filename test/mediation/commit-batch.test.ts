import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryCloud } from "../../bench/support/memory-cloud.ts";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import {
  type ControllerProcess,
  freePort,
  removeDb,
  startControllerProcess,
} from "../../lab/controller-lab.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import { MediationMetrics } from "../../mediation/metrics.ts";
import type { ControllerPort, MemberEndpoint } from "../../mediation/ports/controller.ts";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import type { LinkChecker } from "../../mediation/ports/link-check.ts";
import { ClusterCoordinator } from "../../mediation/runner/cluster-coordinator.ts";
import { CommitBatch } from "../../mediation/runner/commit-batch.ts";
import { MigrationRunner } from "../../mediation/runner/runner.ts";
import { type OvsSwitch, startOvsSwitch, stopAllOvs } from "../controller/openflow/support/ovs-switch.ts";
import { requirePart } from "../support/parts.ts";

// The atomic commit's batch (mediation/runner/commit-batch.ts) through the real runner and
// coordinator, the real controller process and real OVS switches (one per member's new instance,
// connecting when its migration announces), over in-memory clouds as in the commit bench.

const hasOvs = requirePart("ovs");
let nextVni = 6000;

interface Calls {
  readonly singles: { vmId: string; endpoint: string }[];
  readonly batches: (readonly MemberEndpoint[])[];
}

/** A cluster migration of `size` members in `mode`; `beforeBatch` runs before the batch is sent. */
async function migrate(
  ctl: ControllerProcess,
  tag: string,
  mode: "atomic" | "rolling",
  size: number,
  beforeBatch?: (switches: ReadonlyMap<string, OvsSwitch>) => Promise<void>,
  linkChecker?: LinkChecker,
) {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-commit-batch-"));
  const journal = Journal.open(join(dir, "mediation.db"));
  const clusterId = `cb-${tag}`;
  const vni = nextVni++;
  const clouds = {
    "mem-a": new MemoryCloud("mem-a", "192.0.2"),
    "mem-b": new MemoryCloud("mem-b", "198.51.100"),
  };
  const members = Array.from({ length: size }, (_, i) => {
    const vmId = `${clusterId}-m${i + 1}`;
    const vint0 = `10.82.0.${i + 1}`;
    return { vmId, vint0, endpoint: clouds["mem-a"].addServer(vmId).fip };
  });
  const switches = new Map<string, OvsSwitch>();
  const base = new ControllerClientPort({ url: ctl.url, token: readFileSync(ctl.tokenFile, "utf8").trim() });
  const calls: Calls = { singles: [], batches: [] };
  const controller: ControllerPort = {
    findMember: (vmId) => base.findMember(vmId),
    clusterMembers: (id) => base.clusterMembers(id),
    announce: (id, vmId, endpoint) => base.announce(id, vmId, endpoint),
    withdraw: (id, vmId) => base.withdraw(id, vmId),
    switchSession: (id, vmId) => base.switchSession(id, vmId),
    ready: () => base.ready(),
    rebind: async (id, vmId, endpoint) => {
      calls.singles.push({ vmId, endpoint });
      await base.rebind(id, vmId, endpoint);
    },
    rebindBatch: async (id, rebinds) => {
      calls.batches.push(rebinds);
      await beforeBatch?.(switches);
      await base.rebindBatch(id, rebinds);
    },
  };
  const metrics = new MediationMetrics(() => journal.unfinished().length);
  const cloud = (name: string) => clouds[name as keyof typeof clouds];
  const runner = new MigrationRunner({ journal, cloud, controller, linkChecker, metrics });
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
    const member = members.find((m) => m.vmId === journal.get(migrationId)!.member)!;
    switches.set(
      member.vmId,
      startOvsSwitch({ dpid: datapathIdFor(vni, member.vint0), target: `tcp:127.0.0.1:${ctl.openflowPort}` }),
    );
  });
  try {
    await ctl.client.createCluster({ id: clusterId, vni, tunnel: "vxlan", members });
    const started = await coordinator.start({
      cluster: clusterId,
      target: { cloud: "mem-b" },
      mode,
      maxParallel: size,
      ...(mode === "rolling" && { maxInTransit: size }),
    });
    await coordinator.idle();
    await runner.idle();
    const record = journal.clusters.get(started.id)!;
    const after = await ctl.client.listMembers(clusterId);
    const rebinds = await Promise.all(members.map((m) => ctl.client.listRebinds(clusterId, m.vmId)));
    return { record, members, after, rebinds, calls };
  } finally {
    for (const s of switches.values()) s.stop();
    for (const m of members) await ctl.client.removeMember(clusterId, m.vmId).catch(() => undefined);
    await ctl.client.deleteCluster(clusterId).catch(() => undefined);
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!hasOvs)("the atomic commit as one batch rebind", () => {
  let ctl: ControllerProcess;
  beforeAll(async () => {
    ctl = await startControllerProcess({ openflowPort: await freePort() });
  });
  afterAll(async () => {
    stopAllOvs();
    await ctl?.stop();
    if (ctl) removeDb(ctl.dbPath);
  });

  it("holds every member's rebind until all have come, sends one batch, and each member is committed from it", async () => {
    const { record, members, after, rebinds, calls } = await migrate(ctl, "ok", "atomic", 3);
    expect(record.status).toBe("succeeded");
    expect(calls.singles).toEqual([]);
    expect(calls.batches).toHaveLength(1);
    expect(calls.batches[0]!.map((r) => r.vmId).sort()).toEqual(members.map((m) => m.vmId));
    // At the controller: one round for all, so every member's record has the batch's update time.
    expect(after.every((m) => m.endpoint!.startsWith("198.51.100.") && m.nextEndpoint === null)).toBe(true);
    expect(rebinds.map((r) => r.map((x) => x.result))).toEqual([["ok"], ["ok"], ["ok"]]);
    expect(new Set(rebinds.map((r) => r[0]!.updateMs)).size).toBe(1);
  }, 90_000);

  it("turns no peer to a member before its new address answers (its prepared login got in)", async () => {
    // The memory cloud's floating IPs answer nothing: a login that gets in 2.5 s after it was
    // prepared stands for a floating IP whose NAT comes late (the switch connects at once here).
    const reachedAt: number[] = [];
    const checked = { hostKey: "SHA256:checked", hostKeySource: "first-seen" } as const;
    const linkChecker: LinkChecker = {
      check: async () => checked,
      prepare: () => {
        const reached = new Promise<void>((r) => setTimeout(r, 2500)).then(() => {
          reachedAt.push(Date.now());
        });
        return { reachable: () => reached, run: async () => checked, close: () => undefined };
      },
    };
    let batchAt = 0;
    const { record } = await migrate(
      ctl,
      "reach",
      "atomic",
      2,
      async () => {
        batchAt = Date.now();
      },
      linkChecker,
    );
    expect(record.status).toBe("succeeded");
    expect(reachedAt).toHaveLength(2);
    expect(batchAt).toBeGreaterThanOrEqual(Math.max(...reachedAt));
  }, 90_000);

  it("a batch the controller refuses fails every member: each rolls back to where it was, nothing committed", async () => {
    const { record, members, after, rebinds, calls } = await migrate(
      ctl,
      "fail",
      "atomic",
      3,
      async (switches) => {
        // One member's new switch goes away before the batch: the controller refuses it whole (NOT_CONNECTED).
        const [vmId, sw] = [...switches].sort()[1]!;
        sw.stop();
        const clusterId = vmId.replace(/-m\d+$/, "");
        for (let i = 0; i < 200; i++) {
          const s = await ctl.client.listSwitches({ clusterId, vmId });
          if (!s.some((x) => x.connected)) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`${vmId}'s switch still connected`);
      },
    );
    expect(record.status).toBe("failed");
    expect(calls.batches).toHaveLength(1);
    // Each runner's rollback rebinds its member back on its own (a no-op: nothing moved).
    expect(calls.singles.map((s) => s.vmId).sort()).toEqual(members.map((m) => m.vmId));
    expect(after.map((m) => [m.vmId, m.endpoint, m.nextEndpoint])).toEqual(
      members.map((m) => [m.vmId, m.endpoint, null]),
    );
    expect(rebinds).toEqual([[], [], []]);
  }, 90_000);

  it("abandoned (the cluster rolls back before every member has called), fails the held calls and later ones, sending nothing", async () => {
    const clusterId = "cb-abandon";
    const members = [1, 2].map((i) => ({
      vmId: `${clusterId}-m${i}`,
      vint0: `10.83.0.${i}`,
      endpoint: `192.0.2.${i}`,
    }));
    await ctl.client.createCluster({ id: clusterId, vni: nextVni++, tunnel: "vxlan", members });
    try {
      const base = new ControllerClientPort({
        url: ctl.url,
        token: readFileSync(ctl.tokenFile, "utf8").trim(),
      });
      const sent: (readonly MemberEndpoint[])[] = [];
      const batch = new CommitBatch(base, async (id, rebinds) => {
        sent.push(rebinds);
        await base.rebindBatch(id, rebinds);
      });
      batch.begin(members.map((m) => m.vmId));
      const held = batch.port.rebind(clusterId, members[0]!.vmId, "198.51.100.1");
      const why = new Error("rolling back");
      batch.abandon(why);
      await expect(held).rejects.toBe(why);
      await expect(batch.port.rebind(clusterId, members[1]!.vmId, "198.51.100.2")).rejects.toBe(why);
      expect(sent).toEqual([]);
      expect((await ctl.client.listMembers(clusterId)).map((m) => m.endpoint)).toEqual([
        "192.0.2.1",
        "192.0.2.2",
      ]);
      // A member outside the commit goes straight through (here: refused, its switch is not connected).
      await expect(batch.port.rebind(clusterId, "cb-other", "198.51.100.9")).rejects.toThrow(/404/);
    } finally {
      for (const m of members) await ctl.client.removeMember(clusterId, m.vmId).catch(() => undefined);
      await ctl.client.deleteCluster(clusterId).catch(() => undefined);
    }
  });

  it("a rolling cluster keeps one rebind call per member", async () => {
    const { record, calls } = await migrate(ctl, "roll", "rolling", 2);
    expect(record.status).toBe("succeeded");
    expect(calls.batches).toEqual([]);
    expect(calls.singles).toHaveLength(2);
  }, 90_000);
});
