import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { MigrationView } from "../../mediation/api/views.ts";
import { MediationClient } from "../../mediation/client.ts";
import type { OfHarness } from "../controller/openflow/support/harness.ts";
import { type OvsSwitch, startOvsSwitch, stopAllOvs } from "../controller/openflow/support/ovs-switch.ts";
import { labCloudsEnv, labCloudsFile, labDriver } from "./support/clouds.ts";
import {
  cleanClouds,
  controllerWithCluster,
  createSourceServer,
  memberDpid,
  type SourceFixture,
  TOKEN,
} from "./support/service.ts";
import { type ServiceProcess, startServiceProcess } from "./support/service-process.ts";

const cloudsFile = labCloudsFile();

/** Where the service is killed: when the journal's event stream reports this event (and step). */
const KILL_POINTS = [
  { event: "phase", step: "image_creation", outcome: "failed" },
  { event: "phase", step: "security_setup", outcome: "failed" },
  { event: "phase", step: "image_transfer", outcome: "failed" },
  { event: "phase", step: "instantiation", outcome: "failed" },
  { event: "announced", step: undefined, outcome: "failed" },
  { event: "committed", step: undefined, outcome: "succeeded" },
] as const;

describe.skipIf(!cloudsFile)("kill -9 of the mediation service, then a restart", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-crash-"));
  const a = cloudsFile ? labDriver("lab-a") : undefined!;
  const b = cloudsFile ? labDriver("lab-b") : undefined!;
  let tag: string;
  let src: SourceFixture;
  let controller: OfHarness | undefined;
  let proc: ServiceProcess | undefined;
  let sw: OvsSwitch | undefined;
  let migrationId: string | undefined;

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await proc?.stop();
    proc = undefined;
    sw?.stop();
    sw = undefined;
    stopAllOvs();
    await controller?.close();
    controller = undefined;
    const p = migrationId ? `icsdn-${migrationId.slice(0, 8)}` : "none";
    await cleanClouds([`icsdn-t-${tag}`, `${p}-snapshot`, `${p}-image`, `${p}-fip`]);
  }, 180_000);

  for (const point of KILL_POINTS) {
    it(`at ${point.step ?? point.event}: the restarted service ${point.outcome === "failed" ? "rolls back" : "finishes the release"}, nothing orphaned`, async () => {
      tag = `${process.pid}-${Date.now() % 1e6}`;
      src = await createSourceServer(a, tag, dir);
      controller = await controllerWithCluster("vm-a", src.fip.address);
      const db = join(dir, `${tag}.db`);
      const start = () =>
        startServiceProcess({
          db,
          controller: controller!.controller.url,
          token: TOKEN,
          switchTimeoutS: 60,
          env: labCloudsEnv(),
        });
      proc = await start();
      let api = new MediationClient(proc.url, TOKEN);
      const m = await api.create({
        member: "vm-a",
        server: src.serverName,
        source: { cloud: "lab-a" },
        target: { cloud: "lab-b" },
      });
      migrationId = m.id;
      for await (const e of api.events(m.id)) {
        if (e.type === "announced")
          sw ??= startOvsSwitch({ dpid: memberDpid, target: `tcp:127.0.0.1:${controller.tcpPort}` });
        if (e.type === point.event && (point.step === undefined || e.data.step === point.step)) break;
      }
      await proc.kill9();
      proc = await start();
      api = new MediationClient(proc.url, TOKEN);
      let done: MigrationView | undefined;
      for (let i = 0; i < 600; i++) {
        const now = await api.get(m.id);
        if (["succeeded", "failed", "cancelled"].includes(now.status)) {
          done = now;
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      // The error, if any, and the restarted service's last events show in the failure message.
      const last = [];
      for await (const e of api.events(m.id, 0, 2000)) last.push(`${e.type} ${JSON.stringify(e.data)}`);
      expect({
        status: done?.status,
        error: done?.error?.code === "INTERRUPTED" ? null : (done?.error ?? null),
        ...(done === undefined && { events: last.slice(-12) }),
      }).toEqual({
        status: point.outcome,
        error: null,
      });
      const member = (
        await controller.api<{ endpoint: string; nextEndpoint: string | null }>(
          "GET",
          "/v1/clusters/c1/members/vm-a",
        )
      ).body;
      expect(member.nextEndpoint).toBeNull();
      const short = m.id.slice(0, 8);
      if (point.outcome === "failed") {
        expect(done?.error?.code).toBe("INTERRUPTED");
        expect(member.endpoint).toBe(src.fip.address);
        expect((await a.findServer(src.serverId))?.status).toBe("ACTIVE");
        expect(await a.floatingIpExists(src.fip.id)).toBe(true);
        expect(await b.lookupByName("server", src.serverName)).toEqual([]);
        expect(await b.lookupByName("image", `icsdn-${short}-image`)).toEqual([]);
        expect(await b.lookupByName("floating_ip", `icsdn-${short}-fip`)).toEqual([]);
        expect(await b.lookupByName("security_group", src.groupName)).toEqual([]);
        expect(await b.lookupByName("keypair", src.keyName)).toEqual([]);
      } else {
        expect(await a.serverExists(src.serverId)).toBe(false);
        expect(await a.floatingIpExists(src.fip.id)).toBe(false);
        expect((await b.findServer(src.serverName))?.status).toBe("ACTIVE");
      }
      // Neither outcome leaves the snapshot behind in the source cloud.
      expect(await a.lookupByName("image", `icsdn-${short}-snapshot`)).toEqual([]);
      expect(done?.resources.filter((r) => r.owned && r.side === "source" && r.state !== "deleted")).toEqual(
        [],
      );
    }, 240_000);
  }
});
