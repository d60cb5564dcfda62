import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import type { ClusterMigrationView } from "../../mediation/api/cluster-views.ts";
import { MediationClient } from "../../mediation/client.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import { type OfHarness, startHarness } from "../controller/openflow/support/harness.ts";
import { type OvsSwitch, startOvsSwitch, stopAllOvs } from "../controller/openflow/support/ovs-switch.ts";
import { openstackLab } from "../support/openstack-lab.ts";
import { labCloudsEnv, labCloudsFile, labDriver } from "./support/clouds.ts";
import { cleanClouds, createSourceServer, type SourceFixture, TOKEN } from "./support/service.ts";
import { type ServiceProcess, startServiceProcess } from "./support/service-process.ts";

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
describe.skipIf(!cloudsFile)("cluster migrations between the lab's clouds", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-cluster-"));
  const db = join(dir, "mediation.db");
  const a = cloudsFile ? labDriver("lab-a") : undefined!;
  const b = cloudsFile ? labDriver("lab-b") : undefined!;
  const members = [
    { vmId: "vm-a", vint0: "10.78.0.1" },
    { vmId: "vm-b", vint0: "10.78.0.2" },
  ];
  const dpidOf = new Map(members.map((m) => [m.vmId, datapathIdFor(VNI, m.vint0)]));
  const tags: string[] = [];
  let src: SourceFixture[] = [];
  let controller: OfHarness;
  let proc: ServiceProcess | undefined;
  let api: MediationClient;
  let switches: OvsSwitch[] = [];

  const start = async () => {
    proc = await startServiceProcess({
      db,
      controller: controller.controller.url,
      token: TOKEN,
      switchTimeoutS: 20,
      env: labCloudsEnv(),
    });
    api = new MediationClient(proc.url, TOKEN);
  };

  beforeAll(async () => {
    const base = `${process.pid}-${Date.now() % 1e6}`;
    tags.push(`${base}-a`, `${base}-b`);
    src = await Promise.all(tags.map((t) => createSourceServer(a, t, dir)));
    controller = await startHarness();
    const res = await controller.api("POST", "/v1/clusters", {
      id: "cm",
      vni: VNI,
      tunnel: "vxlan",
      members: members.map((m, i) => ({ ...m, endpoint: src[i]!.fip.address })),
    });
    if (res.status !== 201) throw new Error(`cluster: ${JSON.stringify(res.body)}`);
    await start();
  }, 300_000);

  afterEach(() => {
    for (const s of switches) s.stop();
    switches = [];
    stopAllOvs();
  });

  afterAll(async () => {
    const ids = proc ? (await api.list()).map((m) => `icsdn-${m.id.slice(0, 8)}`) : [];
    await proc?.stop();
    await controller?.close().catch(() => undefined);
    await cleanClouds([
      ...tags.map((t) => `icsdn-t-${t}`),
      ...ids.flatMap((p) => [`${p}-snapshot`, `${p}-image`, `${p}-fip`]),
    ]);
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  async function clusterMembers(): Promise<Member[]> {
    return (await controller.api<Member[]>("GET", "/v1/clusters/cm/members")).body;
  }

  /**
   * Plays each new instance's switch (its vm-init would connect icbr0): once a member's migration
   * announces its new endpoint, a real OVS with the member's dpid connects. `skip` never does.
   */
  function playSwitches(clusterMigrationId: string, skip?: string): void {
    const watched = new Set<string>();
    void (async () => {
      for await (const e of api.clusterEvents(clusterMigrationId)) {
        const migrationId = e.data.migrationId;
        const member = String(e.data.member);
        if (e.type !== "member" || typeof migrationId !== "string" || watched.has(migrationId)) continue;
        watched.add(migrationId);
        if (member === skip) continue;
        void (async () => {
          for await (const m of api.events(migrationId)) {
            if (m.type === "announced") {
              switches.push(
                startOvsSwitch({ dpid: dpidOf.get(member)!, target: `tcp:127.0.0.1:${controller.tcpPort}` }),
              );
              return;
            }
          }
        })().catch(() => undefined);
      }
    })().catch(() => undefined);
  }

  async function finished(id: string, timeoutMs = 240_000): Promise<ClusterMigrationView> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const v = await api.getCluster(id);
      if (["succeeded", "failed", "cancelled"].includes(v.status)) return v;
      await new Promise((r) => setTimeout(r, 500));
    }
    const v = await api.getCluster(id);
    throw new Error(`cluster migration ${id} did not end: ${JSON.stringify(v.members)}`);
  }

  /** Every member where it began: its endpoint its source floating IP, its server ACTIVE in lab-a, nothing of the migration left in lab-b. */
  async function expectWhereItBegan(view: ClusterMigrationView): Promise<void> {
    const now = await clusterMembers();
    expect(now.map((m) => [m.vmId, m.endpoint, m.nextEndpoint])).toEqual(
      members.map((m, i) => [m.vmId, src[i]!.fip.address, null]),
    );
    for (const s of src) {
      expect((await a.findServer(s.serverId))?.status).toBe("ACTIVE");
      expect(await a.floatingIpExists(s.fip.id)).toBe(true);
      expect(await b.lookupByName("server", s.serverName)).toEqual([]);
    }
    for (const m of view.members) {
      if (m.migrationId === null) continue;
      const short = m.migrationId.slice(0, 8);
      expect(await b.lookupByName("image", `icsdn-${short}-image`)).toEqual([]);
      expect(await b.lookupByName("floating_ip", `icsdn-${short}-fip`)).toEqual([]);
      expect(await a.lookupByName("image", `icsdn-${short}-snapshot`)).toEqual([]);
      const mig = await api.get(m.migrationId);
      expect(mig.resources.filter((r) => r.owned && r.state !== "deleted")).toEqual([]);
    }
  }

  const body = (mode: "atomic" | "rolling", to = "lab-b") => ({
    cluster: "cm",
    target: { cloud: to },
    mode,
  });

  it("plans the whole cluster (discovered by floating IP) and refuses a plan the target's quota cannot hold, creating nothing", async () => {
    const plan = await api.planCluster(body("atomic"));
    expect(plan.problems).toEqual([]);
    expect(
      plan.members.map((m) => [m.member, m.source.cloud, m.server, m.floatingIp, m.flavor.target]),
    ).toEqual(members.map((m, i) => [m.vmId, "lab-a", src[i]!.serverName, src[i]!.fip.address, "m1.tiny"]));
    expect(plan.members[0]!.securityGroups).toEqual(expect.arrayContaining(["default", src[0]!.groupName]));
    expect(plan.members[0]!.imageBytes).toBeGreaterThan(0);

    const os = openstackLab()!;
    const cloudB = os.clouds.find((c) => c.entry === "lab-b")!;
    const used = (await b.quotas()).instances.used;
    // Room for one more instance, not for the cluster's two.
    await os.cli(cloudB.adminEntry, ["quota", "set", "--instances", String(used + 1), cloudB.project]);
    try {
      const err = await api.createCluster(body("atomic")).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "PRECHECK_FAILED", field: "target.cloud" });
      expect((err as Error).message).toMatch(
        /quota of instances exceeded for the cluster .*2 more needed for 2 members/,
      );
      expect(await api.listClusters()).toEqual([]);
      expect(await api.list()).toEqual([]);
    } finally {
      await os.cli(cloudB.adminEntry, ["quota", "set", "--instances", "100", cloudB.project]);
    }
    const bad = await api
      .createCluster({ ...body("atomic"), members: [{ member: "stranger" }] })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: "PRECHECK_FAILED", field: "members[stranger].member" });
  }, 240_000);

  it("atomic, one member's new switch never connects: nothing is cut over, every target released, the sources untouched", async () => {
    const started = await api.createCluster(body("atomic"));
    playSwitches(started.id, "vm-b");
    const done = await finished(started.id);
    expect(done.status).toBe("failed");
    expect(done.error?.message).toMatch(/member 'vm-b'.*switch did not connect/);
    expect(done.commitMs).toBeNull();
    // vm-a got as far as verified (announced, its switch connected) and was never rebound.
    const events = [];
    for await (const e of api.events(done.members[0]!.migrationId!)) events.push(e.type);
    expect(events).toContain("verified");
    expect(events).not.toContain("rebound");
    await expectWhereItBegan(done);
  }, 300_000);

  it("kill -9 during the transfer, then a restart: the whole cluster rolls back", async () => {
    const started = await api.createCluster(body("atomic"));
    playSwitches(started.id);
    for await (const e of api.clusterEvents(started.id)) {
      if (e.type === "member" && e.data.phase === "image_transfer") break;
    }
    await proc!.kill9();
    await start();
    const done = await finished(started.id);
    expect({ status: done.status, code: done.error?.code }).toEqual({
      status: "failed",
      code: "INTERRUPTED",
    });
    await expectWhereItBegan(done);
  }, 300_000);

  it("kill -9 at the atomic commit, then a restart: rebinds are undone and the cluster ends where it began", async () => {
    const started = await api.createCluster(body("atomic"));
    playSwitches(started.id);
    for await (const e of api.clusterEvents(started.id)) {
      if (e.type === "phase" && e.data.phase === "committing") break;
    }
    await proc!.kill9();
    await start();
    const done = await finished(started.id);
    expect({ status: done.status, code: done.error?.code }).toEqual({
      status: "failed",
      code: "INTERRUPTED",
    });
    await expectWhereItBegan(done);
  }, 300_000);

  it("atomic a -> b: every target verified first, then all rebound in the commit, then the sources released", async () => {
    const started = await api.createCluster(body("atomic"));
    expect(started.status).toBe("running");
    playSwitches(started.id);
    const done = await finished(started.id);
    expect(done.status).toBe("succeeded");
    expect(done.commitMs).toBeGreaterThanOrEqual(0);
    // No member rebound before the last one was verified.
    const at = async (migrationId: string, type: string) => {
      for await (const e of api.events(migrationId))
        if (e.type === type) return Date.parse(String(e.data.at));
      throw new Error(`no ${type} event`);
    };
    const ids = done.members.map((m) => m.migrationId!);
    const lastVerified = Math.max(...(await Promise.all(ids.map((id) => at(id, "verified")))));
    const firstRebound = Math.min(...(await Promise.all(ids.map((id) => at(id, "rebound")))));
    expect(firstRebound).toBeGreaterThanOrEqual(lastVerified);
    const now = await clusterMembers();
    for (const [i, s] of src.entries()) {
      expect(await a.serverExists(s.serverId)).toBe(false);
      expect(await a.floatingIpExists(s.fip.id)).toBe(false);
      const target = await b.findServer(s.serverName);
      expect(target?.status).toBe("ACTIVE");
      expect(now[i]!.nextEndpoint).toBeNull();
      expect((await b.serverFloatingIps(target!.id)).map((f) => f.address)).toEqual([now[i]!.endpoint]);
    }
  }, 300_000);

  it("rolling b -> a with maxInTransit 1: never two members in transit at once (the journal's timestamps)", async () => {
    const started = await api.createCluster({ ...body("rolling", "lab-a"), maxParallel: 2, maxInTransit: 1 });
    playSwitches(started.id);
    const done = await finished(started.id);
    expect(done.status).toBe("succeeded");
    await proc!.stop();
    proc = undefined;
    const journal = Journal.open(db);
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
    await start();
    for (const s of src) {
      expect((await a.findServer(s.serverName))?.status).toBe("ACTIVE");
      expect(await b.lookupByName("server", s.serverName)).toEqual([]);
    }
  }, 300_000);
});
