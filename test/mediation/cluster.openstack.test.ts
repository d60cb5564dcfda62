import { describe, expect, it } from "vitest";
import type { ClusterMigrationView } from "../../mediation/api/cluster-views.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import { openstackLab } from "../support/openstack-lab.ts";
import { labCloudsFile, labDriver } from "./support/clouds.ts";
import { ClusterLab } from "./support/cluster-lab.ts";
import { createSourceServer, type SourceFixture } from "./support/service.ts";

const cloudsFile = labCloudsFile();
const VNI = 4343;

interface Member {
  vmId: string;
  endpoint: string | null;
  nextEndpoint: string | null;
}

/**
 * A 2-member cluster whose servers live in the lab's clouds, moved as a whole by one service
 * (its own process, so it can be killed) against one controller. The cases share the servers:
 * each one starts from where the last one left the cluster (asserted), rollbacks keep it in
 * lab-a, the successful moves take it to lab-b and back.
 */
// Once skipped (1-2 cases failed per run on main, a member's release or rollback waiting minutes on
// a server delete that stayed pending): the lab's Nova lost writes to SQLite's lock conflicts
// ("database is locked", a read-then-write transaction overtaken by another process's commit),
// which Nova retries on MySQL as deadlocks; a lost write in nova-compute's delete dropped a delete
// Nova had accepted (the server back ACTIVE, or ERROR) or kept it `deleting`, when Nova ignores
// every new DELETE. The lab now reports those conflicts as deadlocks (lab/openstack/pylib/
// icsdn_sqlite.py, test/lab/openstack-sqlite.test.ts), and the driver sends a dropped delete again.
describe("cluster migrations between the lab's clouds", () => {
  const a = cloudsFile ? labDriver("lab-a") : undefined!;
  const b = cloudsFile ? labDriver("lab-b") : undefined!;
  const src: SourceFixture[] = [];
  const members = [
    { vmId: "vm-a", vint0: "10.78.0.1" },
    { vmId: "vm-b", vint0: "10.78.0.2" },
  ];
  const lab = new ClusterLab({
    clusterId: "cm",
    vni: VNI,
    members,
    boot: async (dir, tag) => {
      const tags = [`${tag}-a`, `${tag}-b`];
      // One after the other: the lab's Neutron (SQLite) answers 500 to concurrent rule creation.
      for (const t of tags) src.push(await createSourceServer(a, t, dir));
      return { endpoints: src.map((s) => s.fip.address), names: tags.map((t) => `icsdn-t-${t}`) };
    },
  });

  async function clusterMembers(): Promise<Member[]> {
    const { members: now } = (
      await lab.controller.api<{ members: Member[] }>("GET", "/v1/clusters/cm/members")
    ).body;
    return members.map((m) => now.find((x) => x.vmId === m.vmId)!);
  }

  const drivers = { "lab-a": a, "lab-b": b } as const;
  type Cloud = keyof typeof drivers;
  const other = (c: Cloud): Cloud => (c === "lab-a" ? "lab-b" : "lab-a");

  /** Where the whole cluster is: every member's endpoint at the controller, every server in one cloud. */
  async function where(): Promise<{ cloud: Cloud; endpoints: (string | null)[] }> {
    const now = await clusterMembers();
    expect(now.map((m) => m.nextEndpoint)).toEqual([null, null]);
    const inA = await Promise.all(
      src.map(async (s) => (await a.lookupByName("server", s.serverName)).length),
    );
    const inB = await Promise.all(
      src.map(async (s) => (await b.lookupByName("server", s.serverName)).length),
    );
    const cloud: Cloud = inA.every((n) => n === 1) ? "lab-a" : "lab-b";
    expect({ inA, inB }).toEqual(
      cloud === "lab-a" ? { inA: [1, 1], inB: [0, 0] } : { inA: [0, 0], inB: [1, 1] },
    );
    for (const [i, s] of src.entries()) {
      const server = await drivers[cloud].findServer(s.serverName);
      expect(server?.status).toBe("ACTIVE");
      expect((await drivers[cloud].serverFloatingIps(server!.id)).map((f) => f.address)).toEqual([
        now[i]!.endpoint,
      ]);
    }
    return { cloud, endpoints: now.map((m) => m.endpoint) };
  }

  /** After a rollback: the cluster where it began, nothing of the migration left in either cloud. */
  async function expectWhereItBegan(
    before: { cloud: Cloud; endpoints: (string | null)[] },
    view: ClusterMigrationView,
  ): Promise<void> {
    expect(await where()).toEqual(before);
    for (const m of view.members) {
      if (m.migrationId === null) continue;
      const short = m.migrationId.slice(0, 8);
      for (const d of [a, b]) {
        expect(await d.lookupByName("image", `icsdn-${short}-image`)).toEqual([]);
        expect(await d.lookupByName("image", `icsdn-${short}-snapshot`)).toEqual([]);
        expect(await d.lookupByName("floating_ip", `icsdn-${short}-fip`)).toEqual([]);
      }
      const mig = await lab.api.get(m.migrationId);
      expect(mig.resources.filter((r) => r.owned && r.state !== "deleted")).toEqual([]);
    }
  }

  // One member prepares at a time, so the cases see each phase in a known order; two at once is
  // cluster-shared.openstack.test.ts's case, and the scheduler's bound is property-tested.
  const body = (mode: "atomic" | "rolling", to: Cloud = "lab-b") => ({
    cluster: "cm",
    target: { cloud: to },
    mode,
    maxParallel: 1,
  });

  it("plans the whole cluster (discovered by floating IP) and refuses a plan the target's quota cannot hold, creating nothing", async () => {
    const plan = await lab.api.planCluster(body("atomic"));
    expect(plan.problems).toEqual([]);
    expect(
      plan.members.map((m) => [m.member, m.source.cloud, m.server, m.floatingIp, m.flavor.target]),
    ).toEqual(members.map((m, i) => [m.vmId, "lab-a", src[i]!.serverName, src[i]!.fip.address, "m1.tiny"]));
    expect(plan.members[0]!.securityGroups).toEqual(expect.arrayContaining(["default", src[0]!.groupName]));
    expect(plan.members[0]!.securityGroupMapping).toEqual({
      reuse: ["default"],
      create: [src[0]!.groupName],
    });
    expect(plan.members[0]!.imageBytes).toBeGreaterThan(0);
    expect(plan.apply).toMatchObject({
      cluster: "cm",
      mode: "atomic",
      maxParallel: 1,
      members: [
        { member: "vm-a", server: src[0]!.serverName, source: { cloud: "lab-a" }, flavor: "m1.tiny" },
        { member: "vm-b", server: src[1]!.serverName, source: { cloud: "lab-a" }, flavor: "m1.tiny" },
      ],
    });

    const os = openstackLab()!;
    const cloudB = os.clouds.find((c) => c.entry === "lab-b")!;
    const used = (await b.quotas()).instances.used;
    // Room for one more instance, not for the cluster's two.
    await os.cli(cloudB.adminEntry, ["quota", "set", "--instances", String(used + 1), cloudB.project]);
    try {
      const err = await lab.api.createCluster(body("atomic")).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "PRECHECK_FAILED", field: "target.cloud" });
      expect((err as Error).message).toMatch(
        /quota of instances exceeded for the cluster .*2 more needed for 2 members/,
      );
      expect(await lab.api.listClusters()).toEqual([]);
      expect(await lab.api.list()).toEqual([]);
    } finally {
      await os.cli(cloudB.adminEntry, ["quota", "set", "--instances", "100", cloudB.project]);
    }
    const bad = await lab.api
      .createCluster({ ...body("atomic"), members: [{ member: "stranger" }] })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: "PRECHECK_FAILED", field: "members[stranger].member" });
  }, 240_000);

  it("atomic, one member's new switch never connects: nothing is cut over, every target released, the sources untouched", async () => {
    const before = await where();
    const started = await lab.api.createCluster(body("atomic", other(before.cloud)));
    lab.playSwitches(started.id, "vm-b");
    const done = await lab.finished(started.id);
    expect(done.status).toBe("failed");
    expect(done.error?.message).toMatch(/member 'vm-b'.*switch did not connect/);
    expect(done.commitMs).toBeNull();
    // vm-a got as far as verified (announced, its switch connected) and was never rebound.
    const events = [];
    for await (const e of lab.api.events(done.members[0]!.migrationId!)) events.push(e.type);
    expect(events).toContain("verified");
    expect(events).not.toContain("rebound");
    await expectWhereItBegan(before, done);
  }, 300_000);

  it("kill -9 during the transfer, then a restart: the whole cluster rolls back", async () => {
    const before = await where();
    const started = await lab.api.createCluster(body("atomic", other(before.cloud)));
    lab.playSwitches(started.id);
    for await (const e of lab.api.clusterEvents(started.id)) {
      if (e.type === "member" && e.data.phase === "image_transfer") break;
    }
    await lab.killService();
    await lab.startService();
    const done = await lab.finished(started.id);
    expect({ status: done.status, code: done.error?.code }).toEqual({
      status: "failed",
      code: "INTERRUPTED",
    });
    await expectWhereItBegan(before, done);
  }, 300_000);

  it("atomic: every target verified first, then all rebound in the commit, then the sources released", async () => {
    const before = await where();
    const to = other(before.cloud);
    const started = await lab.api.createCluster(body("atomic", to));
    expect(started.status).toBe("running");
    // The answer names the migration of each member already started (maxParallel: the first).
    expect(started.members.map((m) => m.migrationId !== null)).toEqual([true, false]);
    lab.playSwitches(started.id);
    const done = await lab.finished(started.id);
    expect(done.status).toBe("succeeded");
    expect(done.commitMs).toBeGreaterThanOrEqual(0);
    // No member rebound before the last one was verified.
    const at = async (migrationId: string, type: string) => {
      for await (const e of lab.api.events(migrationId))
        if (e.type === type) return Date.parse(String(e.data.at));
      throw new Error(`no ${type} event`);
    };
    const ids = done.members.map((m) => m.migrationId!);
    const lastVerified = Math.max(...(await Promise.all(ids.map((id) => at(id, "verified")))));
    const firstRebound = Math.min(...(await Promise.all(ids.map((id) => at(id, "rebound")))));
    expect(firstRebound).toBeGreaterThanOrEqual(lastVerified);
    const after = await where();
    expect(after.cloud).toBe(to);
    expect(after.endpoints.every((e, i) => e !== before.endpoints[i])).toBe(true);
    if (before.cloud === "lab-a") {
      for (const s of src) expect(await a.floatingIpExists(s.fip.id)).toBe(false);
    }
  }, 300_000);

  it("kill -9 at the atomic commit, then a restart: the cluster ends wholly moved or wholly where it began", async () => {
    const before = await where();
    const started = await lab.api.createCluster(body("atomic", other(before.cloud)));
    lab.playSwitches(started.id);
    for await (const e of lab.api.clusterEvents(started.id)) {
      if (e.type === "phase" && e.data.phase === "committing") break;
    }
    await lab.killService();
    await lab.startService();
    const done = await lab.finished(started.id);
    // Killed before the confirmation was journaled: rolled back; after it: finished.
    if (done.status === "succeeded") expect((await where()).cloud).toBe(other(before.cloud));
    else {
      expect({ status: done.status, code: done.error?.code }).toEqual({
        status: "failed",
        code: "INTERRUPTED",
      });
      await expectWhereItBegan(before, done);
    }
  }, 300_000);

  it("rolling with maxInTransit 1: never two members in transit at once (the journal's timestamps)", async () => {
    const before = await where();
    const started = await lab.api.createCluster({
      ...body("rolling", other(before.cloud)),
      maxInTransit: 1,
    });
    lab.playSwitches(started.id);
    const done = await lab.finished(started.id);
    expect(done.status).toBe("succeeded");
    await lab.stopService();
    const journal = Journal.open(lab.db);
    try {
      const spans = journal.clusters
        .members(started.id)
        .map((m) => [m.cutoverStartedAt!, m.cutoverEndedAt!] as const)
        .sort((x, y) => x[0] - y[0]);
      expect(spans.every(([s, e]) => s > 0 && e >= s)).toBe(true);
      expect(spans[1]![0]).toBeGreaterThanOrEqual(spans[0]![1]);
    } finally {
      journal.close();
    }
    await lab.startService();
    expect((await where()).cloud).toBe(other(before.cloud));
  }, 300_000);
});
