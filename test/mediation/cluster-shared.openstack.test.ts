import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import type { ClusterMigrationView } from "../../mediation/api/cluster-views.ts";
import { MediationClient } from "../../mediation/client.ts";
import type { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import { type OfHarness, startHarness } from "../controller/openflow/support/harness.ts";
import { type OvsSwitch, stopAllOvs } from "../controller/openflow/support/ovs-switch.ts";
import { LAB_FLAVOR, LAB_IMAGE, labCloudsEnv, labCloudsFile, labDriver } from "./support/clouds.ts";
import { playSwitches as playClusterSwitches } from "./support/cluster-switches.ts";
import { cleanClouds, createSourceServer, type SourceFixture, TOKEN } from "./support/service.ts";
import { type ServiceProcess, startServiceProcess } from "./support/service-process.ts";

const cloudsFile = labCloudsFile();
const VNI = 4344;

/** A second server in lab-a with the first one's security group and key pair (what a cluster's members share). */
async function bootSharing(a: OpenStackDriver, first: SourceFixture, name: string) {
  const spec = {
    name,
    imageId: (await a.lookupByName("image", LAB_IMAGE))[0]!,
    flavorId: (await a.listFlavors()).find((f) => f.name === LAB_FLAVOR)!.id,
    networkId: (await a.findNetwork("private"))!,
    keyName: first.keyName,
    securityGroups: ["default", first.groupName],
    userData: undefined,
    metadata: {},
  };
  const serverId = await a.createServer(spec);
  await a.waitServer(serverId, "ACTIVE", 180_000);
  return { serverName: name, fip: await a.createFloatingIp(serverId, name) };
}

/**
 * Two members sharing a security group and a key pair that the target lacks, preparing at once
 * (maxParallel 2): the cluster creates each once in the target before they prepare, and its
 * rollback removes them after every member's own.
 */
describe.skipIf(!cloudsFile)("a cluster's shared target resources (lab clouds)", () => {
  const dir = join(tmpdir(), `icsdn-cluster-shared-${process.pid}-${Date.now()}`);
  const db = join(dir, "mediation.db");
  const a = cloudsFile ? labDriver("lab-a") : undefined!;
  const b = cloudsFile ? labDriver("lab-b") : undefined!;
  const members = [
    { vmId: "vm-s1", vint0: "10.79.0.1" },
    { vmId: "vm-s2", vint0: "10.79.0.2" },
  ];
  const dpidOf = new Map(members.map((m) => [m.vmId, datapathIdFor(VNI, m.vint0)]));
  const tag = `${process.pid}-${Date.now() % 1e6}-s`;
  let first: SourceFixture;
  let controller: OfHarness;
  let proc: ServiceProcess | undefined;
  let api: MediationClient;
  let switches: OvsSwitch[] = [];

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    first = await createSourceServer(a, tag, dir);
    const second = await bootSharing(a, first, `icsdn-t-${tag}2`);
    controller = await startHarness();
    const endpoints = [first.fip.address, second.fip.address];
    const res = await controller.api("POST", "/v1/clusters", {
      id: "cs",
      vni: VNI,
      tunnel: "vxlan",
      members: members.map((m, i) => ({ ...m, endpoint: endpoints[i] })),
    });
    if (res.status !== 201) throw new Error(`cluster: ${JSON.stringify(res.body)}`);
    proc = await startServiceProcess({
      db,
      controller: controller.controller.url,
      token: TOKEN,
      switchTimeoutS: 20,
      env: labCloudsEnv(),
    });
    api = new MediationClient(proc.url, TOKEN);
  }, 600_000);

  afterEach(() => {
    for (const s of switches) s.stop();
    switches = [];
    stopAllOvs();
  });

  afterAll(async () => {
    await proc?.kill9();
    const journal = Journal.open(db);
    const ids = journal.list().map((m) => `icsdn-${m.id.slice(0, 8)}`);
    journal.close();
    await controller?.close().catch(() => undefined);
    // Servers, floating IPs, the group and the key pair carry the tag's names in both clouds.
    await cleanClouds([
      `icsdn-t-${tag}`,
      `icsdn-t-${tag}2`,
      ...ids.flatMap((p) => [`${p}-snapshot`, `${p}-image`, `${p}-fip`]),
    ]);
    rmSync(dir, { recursive: true, force: true });
  }, 600_000);

  const playSwitches = (clusterMigrationId: string, skip?: string) =>
    playClusterSwitches(api, clusterMigrationId, {
      dpidOf,
      controllerPort: controller.tcpPort,
      started: (s) => switches.push(s),
      ...(skip !== undefined && { skip }),
    });

  async function finished(id: string): Promise<{ view: ClusterMigrationView; events: string[] }> {
    const deadline = Date.now() + 280_000;
    for (;;) {
      const view = await api.getCluster(id);
      if (["succeeded", "failed", "cancelled"].includes(view.status)) {
        const events: string[] = [];
        for await (const e of api.clusterEvents(id, 0, 5000))
          if (e.type.startsWith("shared_")) events.push(`${e.type} ${e.data.kind} ${e.data.cloud}`);
        return { view, events };
      }
      if (Date.now() > deadline)
        throw new Error(`cluster migration ${id} did not end: ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  // Two members preparing at once make the lab's Nova (SQLite) snapshot both at once, which it fails
  // now and then (the snapshot image deleted, or never active): only the case about the race does.
  const body = (maxParallel: number) => ({
    cluster: "cs",
    target: { cloud: "lab-b" },
    mode: "atomic",
    maxParallel,
  });

  it("atomic rollback (one member's switch never connects): the shared group and key pair go with it", async () => {
    expect(await b.lookupByName("security_group", first.groupName)).toEqual([]);
    expect(await b.hasKeyPair(first.keyName)).toBe(false);
    const started = await api.createCluster(body(1));
    playSwitches(started.id, "vm-s2");
    const { view, events } = await finished(started.id);
    expect(view.status).toBe("failed");
    expect(view.error?.message).toMatch(/member 'vm-s2'.*switch did not connect/);
    expect(events).toEqual([
      "shared_created security_group lab-b",
      "shared_created keypair lab-b",
      "shared_deleted keypair lab-b",
      "shared_deleted security_group lab-b",
    ]);
    expect(await b.lookupByName("security_group", first.groupName)).toEqual([]);
    expect(await b.hasKeyPair(first.keyName)).toBe(false);
    // No member owned them: nothing of theirs left to undo.
    for (const m of view.members) {
      const mig = await api.get(m.migrationId!);
      expect(mig.resources.filter((r) => r.kind === "security_group" || r.kind === "keypair")).toEqual([]);
    }
  }, 300_000);

  // Two members at once: before the lab's Nova retried SQLite's lock conflicts (lab/openstack/README.md,
  // deviation 2) one of the two concurrent snapshots failed in every attempt.
  it("atomic, both members at once: the cluster moves, with exactly one group of that name in the target", async () => {
    const started = await api.createCluster(body(2));
    // Both members started at once (before this fix they raced to create the group and key pair).
    expect(started.members.map((m) => m.migrationId !== null)).toEqual([true, true]);
    playSwitches(started.id);
    const { view, events } = await finished(started.id);
    expect({ status: view.status, error: view.error }).toEqual({ status: "succeeded", error: null });
    expect(events).toEqual(["shared_created security_group lab-b", "shared_created keypair lab-b"]);
    const groups = await b.lookupByName("security_group", first.groupName);
    expect(groups).toHaveLength(1);
    expect(await b.hasKeyPair(first.keyName)).toBe(true);
    // The copied remote-group rule points at the target's own group.
    const copied = (await b.listSecurityGroups()).find((g) => g.id === groups[0]);
    expect(copied?.rules).toContainEqual(
      expect.objectContaining({ protocol: "udp", portMin: 4789, remoteGroupName: first.groupName }),
    );
    for (const name of [first.serverName, `icsdn-t-${tag}2`]) {
      const server = await b.findServer(name);
      expect(server?.status).toBe("ACTIVE");
      expect(server?.securityGroups).toContain(first.groupName);
      expect(server?.keyName).toBe(first.keyName);
    }
  }, 300_000);
});
