import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { MigrationView } from "../../mediation/api/views.ts";
import { MediationClient } from "../../mediation/client.ts";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import { SshLinkChecker } from "../../mediation/ports/ssh-link-check.ts";
import { type RunningMediation, startMediation } from "../../mediation/server.ts";
import type { OfHarness } from "../controller/openflow/support/harness.ts";
import { type OvsSwitch, startOvsSwitch, stopAllOvs } from "../controller/openflow/support/ovs-switch.ts";
import { openstackLab } from "../support/openstack-lab.ts";
import { labCloudsEnv, labCloudsFile, labDriver } from "./support/clouds.ts";
import {
  cleanClouds,
  controllerWithCluster,
  createSourceServer,
  memberDpid,
  type SourceFixture,
  TOKEN,
} from "./support/service.ts";

const cloudsFile = labCloudsFile();

interface Member {
  clusterId: string;
  vmId: string;
  endpoint: string | null;
  nextEndpoint: string | null;
}

describe.skipIf(!cloudsFile)("the mediation service moves a member between the lab's clouds", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-mediation-"));
  let tag: string;
  let src: SourceFixture;
  let controller: OfHarness;
  let service: RunningMediation;
  /** What this test started, for afterEach (a failed setUp leaves the previous test's, closed, in the variables above). */
  let opened: { service?: RunningMediation; controller?: OfHarness } = {};
  let api: MediationClient;
  let sw: OvsSwitch | undefined;
  const a = cloudsFile ? labDriver("lab-a") : undefined!;
  const b = cloudsFile ? labDriver("lab-b") : undefined!;

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function setUp(switchDeadlineMs: number, linkCheck = false): Promise<void> {
    tag = `${process.pid}-${Date.now() % 1e6}`;
    src = await createSourceServer(a, tag, dir);
    controller = await controllerWithCluster("vm-a", src.fip.address);
    opened.controller = controller;
    service = await startMediation({
      dbPath: join(dir, `${tag}.db`),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "token", token: TOKEN },
      controller: new ControllerClientPort({ url: controller.controller.url, token: undefined }),
      ...(linkCheck && {
        linkChecker: new SshLinkChecker({ username: "root", privateKeyFile: src.privateKeyFile }),
      }),
      runner: { switchDeadlineMs, chunkSize: 1 << 16 },
      env: labCloudsEnv(),
    });
    opened.service = service;
    api = new MediationClient(service.url, TOKEN);
  }

  afterEach(async () => {
    sw?.stop();
    sw = undefined;
    stopAllOvs();
    const ids = (opened.service?.journal.list() ?? []).map((m) => `icsdn-${m.id.slice(0, 8)}`);
    await opened.service?.close();
    await opened.controller?.close().catch(() => undefined);
    opened = {};
    await cleanClouds([`icsdn-t-${tag}`, ...ids.flatMap((p) => [`${p}-snapshot`, `${p}-image`, `${p}-fip`])]);
  }, 180_000);

  async function until(id: string, type: string): Promise<void> {
    for await (const e of api.events(id)) if (e.type === type) return;
    const ended = await api.get(id);
    throw new Error(
      `migration ${id} ended ${ended.status} without a '${type}' event: ${JSON.stringify(ended.error)}`,
    );
  }

  async function finished(id: string): Promise<MigrationView> {
    for await (const _ of api.events(id)) {
      // drain until the stream ends with the migration
    }
    return api.get(id);
  }

  /** The member's move from lab-a to lab-b, as every test asks for it. */
  function move(idempotencyKey?: string): Promise<MigrationView> {
    return api.create(
      { member: "vm-a", server: src.serverName, source: { cloud: "lab-a" }, target: { cloud: "lab-b" } },
      idempotencyKey,
    );
  }

  /** After a rollback: nothing of the migration's left in either cloud, the source server running with its address. */
  async function expectRolledBack(done: MigrationView): Promise<void> {
    const short = done.id.slice(0, 8);
    expect(done.resources.filter((r) => r.owned && r.state !== "deleted")).toEqual([]);
    expect(await b.lookupByName("server", src.serverName)).toEqual([]);
    expect(await b.lookupByName("image", `icsdn-${short}-image`)).toEqual([]);
    expect(await b.lookupByName("floating_ip", `icsdn-${short}-fip`)).toEqual([]);
    expect(await b.lookupByName("security_group", src.groupName)).toEqual([]);
    expect(await b.lookupByName("keypair", src.keyName)).toEqual([]);
    expect((await a.findServer(src.serverId))?.status).toBe("ACTIVE");
    expect(await a.floatingIpExists(src.fip.id)).toBe(true);
    expect(await a.lookupByName("image", `icsdn-${short}-snapshot`)).toEqual([]);
  }

  async function member(): Promise<Member> {
    return (await controller.api<Member>("GET", "/v1/clusters/c1/members/vm-a")).body;
  }

  it("migrates: journaled phases, verified stream, announce, rebind once the new switch is up, then the source is released", async () => {
    await setUp(60_000);
    const started = await move(`key-${tag}`);
    expect(started.status).toBe("running");
    expect((await move(`key-${tag}`)).id).toBe(started.id);

    await until(started.id, "announced");
    const announced = await member();
    expect(announced.nextEndpoint).not.toBeNull();
    expect(announced.endpoint).toBe(src.fip.address);
    // The new instance's vm-init would connect its icbr0 now: a real OVS with the member's dpid does.
    sw = startOvsSwitch({ dpid: memberDpid, target: `tcp:127.0.0.1:${controller.tcpPort}` });

    const done = await finished(started.id);
    expect(done.status).toBe("succeeded");
    expect(done.committed).toBe(true);
    expect(Object.keys(done.timings).sort()).toEqual(
      [
        "image_creation",
        "image_download",
        "image_upload",
        "instantiation",
        "network_setup",
        "release_source",
        "security_setup",
        "source_auth",
        "target_auth",
      ].sort(),
    );
    expect(Object.values(done.timings).every((s) => s !== null && s >= 0)).toBe(true);
    const after = await member();
    expect(after.endpoint).toBe(announced.nextEndpoint);
    expect(after.nextEndpoint).toBeNull();

    // The source is gone: server, its floating IP, the snapshot.
    expect(await a.serverExists(src.serverId)).toBe(false);
    expect(await a.floatingIpExists(src.fip.id)).toBe(false);
    expect(await a.lookupByName("image", `icsdn-${started.id.slice(0, 8)}-snapshot`)).toEqual([]);
    // The target holds the server (same name, the member's key pair, the copied groups) and its floating IP.
    const target = await b.findServer(src.serverName);
    expect(target?.status).toBe("ACTIVE");
    expect(target?.keyName).toBe(src.keyName);
    expect([...(target?.securityGroups ?? [])].sort()).toEqual(["default", src.groupName].sort());
    const group = (await b.listSecurityGroups()).find((g) => g.name === src.groupName)!;
    expect(group.rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ protocol: "udp", portMin: 4789, remoteGroupName: src.groupName }),
        expect.objectContaining({ protocol: "tcp", portMin: 22, remoteIpPrefix: "0.0.0.0/0" }),
      ]),
    );
    expect((await b.serverFloatingIps(target!.id)).map((f) => f.address)).toEqual([after.endpoint]);
    const copy = await b.getImage(
      (await b.lookupByName("image", `icsdn-${started.id.slice(0, 8)}-image`))[0]!,
    );
    expect(done.imageHash).toEqual({ algo: "sha512", value: copy?.hashValue });
    const manifestRes = await fetch(`${service.url}/v1/migrations/${started.id}/manifest`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const manifest = (await manifestRes.json()) as { imageHash: unknown; size: number };
    expect(manifest.imageHash).toEqual(done.imageHash);
    expect(manifest.size).toBe(copy?.size);
    expect(
      done.resources
        .filter((r) => r.side !== "controller" && r.state !== "deleted")
        .map((r) => `${r.where}:${r.kind}`)
        .sort(),
    ).toEqual(
      ["lab-b:floating_ip", "lab-b:image", "lab-b:keypair", "lab-b:security_group", "lab-b:server"].sort(),
    );
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/icsdn_migrations_total\{result="succeeded"\} 1/);
    expect(metrics).toMatch(/icsdn_migration_phase_seconds_count\{phase="image_upload"\} 1/);
    expect(metrics).toMatch(/icsdn_migrations_in_flight 0/);
  }, 180_000);

  it("rolls back when the new instance's switch never connects: target released, announcement withdrawn, source untouched", async () => {
    await setUp(3000);
    const started = await move();
    const done = await finished(started.id);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("CLOUD_TIMEOUT");
    expect(done.error?.message).toMatch(/switch did not connect/);
    const m = await member();
    expect(m.endpoint).toBe(src.fip.address);
    expect(m.nextEndpoint).toBeNull();
    await expectRolledBack(done);
  }, 180_000);

  it("rolls back when the controller is unreachable at network setup, leaving nothing in the target", async () => {
    await setUp(60_000);
    const started = await move();
    for await (const e of api.events(started.id)) {
      if (e.type === "phase" && e.data.step === "instantiation") break;
    }
    await controller.close();
    const done = await finished(started.id);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("CONTROLLER_UNREACHABLE"); // the contract client's code
    await expectRolledBack(done);
  }, 180_000);

  it("rolls back when the ssh link check fails after the rebind: the member is rebound to the source", async () => {
    await setUp(60_000, true);
    const started = await move();
    await until(started.id, "announced");
    sw = startOvsSwitch({ dpid: memberDpid, target: `tcp:127.0.0.1:${controller.tcpPort}` });
    const done = await finished(started.id);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("LINK_CHECK_FAILED");
    // ssh reached the new VM (it has the member's key pair) and its ping of the peer's vint0 failed
    expect(done.error?.message).toMatch(/does not reach 10\.77\.0\.2/);
    const m = await member();
    expect(m.endpoint).toBe(src.fip.address);
    expect(m.nextEndpoint).toBeNull();
    await expectRolledBack(done);
  }, 240_000);

  it("refuses a move the target's quota cannot hold, naming it, and creates nothing", async () => {
    await setUp(3000);
    const os = openstackLab()!;
    const cloudB = os.clouds.find((c) => c.entry === "lab-b")!;
    await os.cli(cloudB.adminEntry, ["quota", "set", "--instances", "0", cloudB.project]);
    try {
      const err = await move().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "PRECHECK_FAILED", field: "target.cloud" });
      expect((err as Error).message).toMatch(
        /cloud 'lab-b': quota of instances exceeded \(\d+ of 0 used, 1 more needed\)/,
      );
      expect(service.journal.list()).toEqual([]);
      expect(await a.lookupByName("image", `icsdn-t-${tag}`)).toEqual([]);
    } finally {
      await os.cli(cloudB.adminEntry, ["quota", "set", "--instances", "100", cloudB.project]);
    }
  }, 180_000);

  it("cancels before the commit point and rolls back; refuses a cancel of a finished migration", async () => {
    await setUp(60_000);
    const started = await move();
    await until(started.id, "announced");
    expect((await api.cancel(started.id)).id).toBe(started.id);
    const done = await finished(started.id);
    expect(done.status).toBe("cancelled");
    expect(done.error?.code).toBe("CANCELLED");
    expect((await member()).nextEndpoint).toBeNull();
    await expectRolledBack(done);
    const again = await api.cancel(started.id).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: "MIGRATION_BUSY", field: "id" });
  }, 180_000);

  it("refuses bad requests naming the field, and a plan that cannot run naming every problem, creating nothing", async () => {
    await setUp(3000);
    const post = async (body: unknown, token = TOKEN) => {
      const res = await fetch(`${service.url}/v1/migrations`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return {
        status: res.status,
        body: (await res.json()) as {
          code: string;
          field?: string;
          error: string;
          details?: { problems: { field: string }[] };
          problems?: unknown[];
        },
      };
    };
    const ok = {
      member: "vm-a",
      server: src.serverName,
      source: { cloud: "lab-a" },
      target: { cloud: "lab-b" },
    };
    expect((await post(ok, "wrong-token-0123456789")).status).toBe(401);
    expect(await post({ ...ok, member: undefined })).toMatchObject({
      status: 400,
      body: { code: "INVALID_FIELD", field: "member" },
    });
    expect(await post({ ...ok, target: { cloud: 7 } })).toMatchObject({
      status: 400,
      body: { field: "target.cloud" },
    });
    expect(await post({ ...ok, extra: 1 })).toMatchObject({ status: 400, body: { field: "extra" } });
    expect(await post({ ...ok, source: { cloud: "nowhere" } })).toMatchObject({
      status: 400,
      body: { code: "INVALID_FIELD", field: "source.cloud" },
    });
    expect(await post({ ...ok, vmInit: { clusterId: "c1" } })).toMatchObject({
      status: 400,
      body: { code: "INVALID_FIELD" },
    });
    const refused = await post({
      ...ok,
      member: "stranger",
      server: "no-such-server",
      target: { cloud: "lab-b", network: "no-such-net" },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe("PRECHECK_FAILED");
    expect(refused.body.details?.problems.map((p) => p.field)).toEqual([
      "server",
      "target.network",
      "member",
    ]);
    const dry = await post({ ...ok, dryRun: true });
    // lab-b takes qcow2 only: the dry run already says the raw disk will be converted.
    expect(dry).toMatchObject({
      status: 200,
      body: { problems: [], imageFormat: { kind: "convert", from: "raw", to: "qcow2" } },
    });
    expect(service.journal.list()).toEqual([]);
    const first = await post(ok);
    expect(first.status).toBe(202);
    const second = await post(ok);
    expect(second).toMatchObject({ status: 409, body: { code: "MIGRATION_BUSY", field: "member" } });
    const notFound = await fetch(`${service.url}/v1/migrations/00000000-0000-0000-0000-000000000000`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(notFound.status).toBe(404);
    const spec = (await (await fetch(`${service.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        "/v1/migrations",
        "/v1/migrations/{id}/events",
        "/v1/migrations/{id}/cancel",
        "/v1/migrations/{id}/manifest",
      ]),
    );
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    await finished((first.body as unknown as { id: string }).id);
  }, 180_000);
});
