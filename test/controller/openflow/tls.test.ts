import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../controller/model/dpid.ts";
import { loadTlsMaterial, pkiInit, pkiIssue } from "../../../controller/openflow/pki.ts";
import { requirePart } from "../../support/parts.ts";
import { tempDir } from "../support/fixtures.ts";
import { type OfHarness, startHarness, waitFor } from "./support/harness.ts";
import { startOvsSwitch, stopAllOvs } from "./support/ovs-switch.ts";

const icsdn = join(import.meta.dirname, "../../../bin/icsdn");
const hasOvs = requirePart("ovs");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  stopAllOvs();
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  cleanups.push(d.remove);
  return d.path;
}

async function tlsHarness(pki: string): Promise<OfHarness> {
  const material = await loadTlsMaterial(pki);
  const h = await startHarness({ openflow: { tls: { host: "127.0.0.1", port: 0, material } } });
  cleanups.push(() => h.close());
  return h;
}

describe("icsdn controller pki", () => {
  it("creates a CA, the controller's and each VM's key and certificate; keys 0600, never printed", () => {
    const pki = join(dir("icsdn-pki-"), "pki");
    const init = spawnSync(icsdn, ["controller", "pki", "init", "--dir", pki], { encoding: "utf8" });
    expect(init.status, init.stderr).toBe(0);
    const issue = spawnSync(icsdn, ["controller", "pki", "issue", "--dir", pki, "--name", "vm1"], {
      encoding: "utf8",
    });
    expect(issue.status, issue.stderr).toBe(0);
    for (const out of [init.stdout, init.stderr, issue.stdout, issue.stderr])
      expect(out).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(readdirSync(pki).sort()).toEqual([
      "ca.crt",
      "ca.key",
      "controller.crt",
      "controller.key",
      "vm1.crt",
      "vm1.key",
    ]);
    for (const key of ["ca.key", "controller.key", "vm1.key"]) {
      expect(statSync(join(pki, key)).mode & 0o777, key).toBe(0o600);
      expect(readFileSync(join(pki, key), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
    expect(statSync(pki).mode & 0o777).toBe(0o700);
    const verify = spawnSync(
      "openssl",
      ["verify", "-CAfile", join(pki, "ca.crt"), join(pki, "vm1.crt"), join(pki, "controller.crt")],
      {
        encoding: "utf8",
      },
    );
    expect(verify.stdout).toMatch(/vm1\.crt: OK[\s\S]*controller\.crt: OK/);
    const again = spawnSync(icsdn, ["controller", "pki", "issue", "--dir", pki, "--name", "vm1"], {
      encoding: "utf8",
    });
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/PKI_EXISTS: vm1 already has a key or certificate/);
    const noCa = spawnSync(
      icsdn,
      ["controller", "pki", "issue", "--dir", dir("icsdn-pki-"), "--name", "vm2"],
      { encoding: "utf8" },
    );
    expect(noCa.stderr).toMatch(/PKI_MISSING: .* has no CA/);
    const bad = spawnSync(icsdn, ["controller", "pki", "issue", "--dir", pki, "--name", "Bad_Name"], {
      encoding: "utf8",
    });
    expect(bad.stderr).toMatch(/BAD_NAME: --name: 'Bad_Name'/);
  });
});

describe.skipIf(!hasOvs)("OpenFlow over mutual TLS with real Open vSwitch", () => {
  it("accepts a switch whose certificate our CA signed, and refuses one signed by another CA", async () => {
    const pki = join(dir("icsdn-pki-"), "ours");
    const theirs = join(dir("icsdn-pki-"), "theirs");
    await pkiInit(pki);
    await pkiInit(theirs);
    const good = await pkiIssue(pki, "vm1");
    const forged = await pkiIssue(theirs, "vm2");
    const h = await tlsHarness(pki);
    await h.api("POST", "/v1/clusters", {
      id: "web",
      vni: 42,
      tunnel: "vxlan",
      members: [
        { vmId: "vm1", vint0: "198.18.0.1", endpoint: "192.0.2.1" },
        { vmId: "vm2", vint0: "198.18.0.2", endpoint: "192.0.2.2" },
      ],
    });
    const ca = join(pki, "ca.crt");
    const a = startOvsSwitch({
      dpid: datapathIdFor(42, "198.18.0.1"),
      target: `ssl:127.0.0.1:${h.tlsPort}`,
      ssl: { ...good, ca },
    });
    // It even trusts our CA, so only our refusal of its certificate keeps it out.
    startOvsSwitch({
      dpid: datapathIdFor(42, "198.18.0.2"),
      target: `ssl:127.0.0.1:${h.tlsPort}`,
      ssl: { ...forged, ca },
    });
    await waitFor(() => h.reconciles.length === 1, "the good switch reconciled", 15_000);
    expect(h.reconciles[0]!.session).toMatchObject({ transport: "tls", dpid: a.dpid });
    expect(a.dumpFlows()).toHaveLength(4);
    await waitFor(
      () => h.log.entries.some((e) => e.msg.startsWith("TLS client refused")),
      "the forged switch refused",
      10_000,
    );
    expect((await h.server.switches()).map((s) => s.dpid)).toEqual([a.dpid]);
  });

  it("refuses a TLS client without a certificate, and plain OpenFlow on the TLS port", async () => {
    const pki = join(dir("icsdn-pki-"), "pki");
    await pkiInit(pki);
    const h = await tlsHarness(pki);
    const outcome = await new Promise<string>((resolve) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: h.tlsPort!,
        ca: readFileSync(join(pki, "ca.crt")),
        checkServerIdentity: () => undefined,
      });
      s.on("secureConnect", () => s.write(new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1])));
      s.on("data", () => resolve("got data"));
      s.on("error", (e) => resolve(`error: ${e.message}`));
      s.on("close", () => resolve("closed"));
    });
    expect(outcome).toMatch(/error: .*certificate required|closed/);
    const plain = await new Promise<string>((resolve) => {
      const s = tcpConnect({ host: "127.0.0.1", port: h.tlsPort! }, () =>
        s.write(new Uint8Array([4, 0, 0, 8, 0, 0, 0, 1])),
      );
      s.on("data", () => resolve("got data"));
      s.on("close", () => resolve("closed"));
      s.on("error", () => resolve("closed"));
    });
    expect(plain).toBe("closed");
    expect(await h.server.switches()).toEqual([]);
  });
});

describe.skipIf(!hasOvs)("icsdn controller serve --openflow-tls", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("listens on TCP and TLS and takes a switch over TLS", async () => {
    const pki = join(dir("icsdn-pki-"), "pki");
    await pkiInit(pki);
    const vm = await pkiIssue(pki, "vm9");
    const db = join(dir("icsdn-serve-"), "c.db");
    child = spawn(
      icsdn,
      [
        "controller",
        "serve",
        "--db",
        db,
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--log-level",
        "warn",
        "--openflow",
        "127.0.0.1:0",
        "--openflow-tls",
        "127.0.0.1:0",
        "--pki-dir",
        pki,
        "--echo-interval",
        "1s",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (d) => {
        out += String(d);
        const m = /listening on .*\n/.exec(out);
        if (m) resolve(m[0]);
      });
      child!.on("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const m = /listening on (http:\/\/\S+) .*openflow: tcp:127\.0\.0\.1:(\d+) ssl:127\.0\.0\.1:(\d+)\)/.exec(
      line,
    );
    expect(m, line).not.toBeNull();
    const [, url, , sslPort] = m!;
    startOvsSwitch({
      dpid: 0x77n,
      target: `ssl:127.0.0.1:${sslPort}`,
      ssl: { ...vm, ca: join(pki, "ca.crt") },
    });
    const seen = await waitFor(
      async () => {
        const body = (await (await fetch(`${url}/v1/switches`)).json()) as {
          switches: { dpid: string; connected: boolean }[];
        };
        return body.switches.find((s) => s.dpid === "0000000000000077" && s.connected);
      },
      "the switch in /v1/switches",
      15_000,
    );
    expect(seen).toMatchObject({ clusterId: null });
    const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
