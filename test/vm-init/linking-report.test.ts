/**
 * vm-init reports its linking time to the controller's REST API (controller.restUrl + vmId, with
 * the bearer token from controller.tokenFile), and a real controller records it. The report is
 * best effort: a refusal or an unreachable controller is returned in the apply result, never thrown.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningController, startController } from "../../controller/server.ts";
import { freePort } from "../../lab/controller-lab.ts";
import { apply } from "../../vm-init/index.ts";
import { reportLinking } from "../../vm-init/linking-report.ts";
import { configFor, targetOf } from "./helpers.ts";
import { OfListener } from "./of-listener.ts";
import { createSandbox, destroyAllSandboxes } from "./ovs-sandbox.ts";

const TOKEN = "linking-report-token-0123456789";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await destroyAllSandboxes();
});

/** A real controller (token auth, no switch side) with cluster "web" and member "vm1", and a token file. */
async function controller(): Promise<{ ctl: RunningController; tokenFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-vminit-report-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const ctl = await startController({
    dbPath: join(dir, "controller.db"),
    listen: { host: "127.0.0.1", port: 0 },
    auth: { mode: "token", token: TOKEN },
  });
  cleanups.push(() => ctl.close());
  const res = await fetch(`${ctl.url}/v1/clusters`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({
      id: "web",
      vni: 42,
      tunnel: "vxlan",
      members: [{ vmId: "vm1", vint0: "198.18.0.1" }],
    }),
  });
  expect(res.status).toBe(201);
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  return { ctl, tokenFile };
}

async function recorded(ctl: RunningController): Promise<{ vmId: string; linkingMs: number }[]> {
  const res = await fetch(`${ctl.url}/v1/linking`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await res.json()) as { reports: { vmId: string; linkingMs: number }[] }).reports;
}

describe("linking report", () => {
  it("apply links icbr0, then the controller records the linking time apply measured", async () => {
    const { ctl, tokenFile } = await controller();
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const of = await OfListener.start(host);
    cleanups.push(() => of.close());
    const config = configFor(sb, (c) => {
      c.clusterId = "web";
      c.controller = {
        targets: [`tcp:${host}:${of.port}`],
        connectTimeoutMs: 3000,
        restUrl: ctl.url,
        vmId: "vm1",
        tokenFile,
      };
    });
    const r = await apply(config, targetOf(sb));
    expect(r.controllerConnected).toBe(true);
    expect(r.linkingReport, JSON.stringify(r.linkingReport)).toEqual({ status: "recorded" });
    expect(await recorded(ctl)).toMatchObject([{ vmId: "vm1", linkingMs: r.linkingMs }]);
  });

  it("returns why the controller refused or could not be reached, without the token", async () => {
    const { ctl, tokenFile } = await controller();
    const closed = await freePort();
    const wrongToken = join(tmpdir(), `icsdn-wrong-token-${process.pid}`);
    writeFileSync(wrongToken, "not-the-token-0123456789", { mode: 0o600 });
    cleanups.push(() => rmSync(wrongToken, { force: true }));
    const cases: [Parameters<typeof reportLinking>[0], RegExp][] = [
      [{ restUrl: ctl.url, vmId: "vm1", tokenFile: wrongToken }, /answered 401/],
      [{ restUrl: ctl.url, vmId: "vm1" }, /answered 401/],
      [
        { restUrl: ctl.url, vmId: "vm9", tokenFile },
        /answered 404 \(NOT_FOUND: vmId: cluster 'web' has no member 'vm9'\)/,
      ],
      [
        { restUrl: ctl.url, vmId: "vm1", tokenFile: "/nonexistent/token" },
        /cannot read controller.tokenFile \/nonexistent\/token: ENOENT/,
      ],
      [
        { restUrl: `http://127.0.0.1:${closed}/`, vmId: "vm1", tokenFile },
        new RegExp(`127.0.0.1:${closed}/v1/linking: ECONNREFUSED`),
      ],
    ];
    for (const [controllerConfig, why] of cases) {
      const report = await reportLinking(controllerConfig, "web", 12.5);
      expect(report.status, JSON.stringify(controllerConfig)).toBe("failed");
      const error = (report as { error: string }).error;
      expect(error).toMatch(why);
      expect(error).not.toContain(TOKEN);
    }
    expect(await recorded(ctl)).toEqual([]);
  });
});
