/**
 * ssl: controller targets: vm-init writes OVS's SSL table (key, certificate, CA) so icbr0 connects
 * to the controller's mutual-TLS listener, with certificates from `icsdn controller pki`. The
 * controller is the real one (OpenFlowServer), listening on the sandbox's host address.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor as controllerDpid } from "../../contract/dataplane/index.ts";
import { loadTlsMaterial, pkiInit, pkiIssue } from "../../controller/openflow/pki.ts";
import { startController } from "../../controller/server.ts";
import { apply, VmInitError } from "../../vm-init/index.ts";
import { configFor, targetOf } from "./helpers.ts";
import { createSandbox, destroyAllSandboxes } from "./ovs-sandbox.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await destroyAllSandboxes();
});

describe("ssl: controller targets", () => {
  it("apply sets OVS's SSL files and icbr0 connects over mutual TLS; again: nothing written; unreadable files refused first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "icsdn-vminit-tls-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pki = join(dir, "pki");
    await pkiInit(pki);
    const vm1 = await pkiIssue(pki, { clusterId: "test", vmId: "vm1" });
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const material = await loadTlsMaterial(pki);
    const ctl = await startController({
      dbPath: join(dir, "controller.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "none" },
      openflow: { tls: { host, port: 0, material } },
    });
    cleanups.push(() => ctl.close());
    // The controller admits a TLS switch only as the member its certificate names.
    const created = await fetch(`${ctl.url}/v1/clusters`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "test",
        vni: 42,
        tunnel: "vxlan",
        members: [{ vmId: "vm1", vint0: "198.18.0.1" }],
      }),
    });
    expect(created.status).toBe(201);
    const server = ctl.openflow!;
    const target = `ssl:${host}:${server.addresses()[0]!.address.port}`;
    const tls = { privateKey: vm1.key, certificate: vm1.cert, caCertificate: join(pki, "ca.crt") };
    const config = configFor(sb, (c) => {
      c.controller = { targets: [target], connectTimeoutMs: 5000, tls };
    });

    // A file OVS could not read is refused before anything is written.
    const missing = configFor(sb, (c) => {
      c.controller = {
        targets: [target],
        connectTimeoutMs: 5000,
        tls: { ...tls, caCertificate: join(dir, "nope.crt") },
      };
    });
    const refused = await apply(missing, targetOf(sb)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(VmInitError);
    expect(refused).toMatchObject({ code: "TLS_FILE_UNREADABLE", field: "controller.tls.caCertificate" });
    expect((await sb.vsctl("list-br")).trim()).toBe("");

    const r = await apply(config, targetOf(sb));
    expect(r).toMatchObject({ controllerConnected: true, controllerTarget: target });
    expect(await sb.vsctl("get-ssl")).toContain(`Private key: ${vm1.key}`);
    // The controller took the switch over TLS and knows its dpid.
    const dpid = controllerDpid(42, "198.18.0.1");
    const deadline = Date.now() + 5000;
    while (server.registry.sessionsOf(dpid).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(server.registry.sessionsOf(dpid).map((s) => s.isReady)).toEqual([true]);

    const again = await apply(config, targetOf(sb));
    expect(again).toMatchObject({ changed: false, controllerConnected: true });
  });
});
