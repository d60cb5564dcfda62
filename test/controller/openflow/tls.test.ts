import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor, formatDpid } from "../../../contract/dataplane/index.ts";
import { loadTlsMaterial, pkiInit, pkiIssue } from "../../../controller/openflow/pki.ts";
import { tempDir } from "../support/fixtures.ts";
import { type OfHarness, startHarness, waitFor } from "./support/harness.ts";
import { startOvsSwitch, stopAllOvs } from "./support/ovs-switch.ts";

const icsdn = join(import.meta.dirname, "../../../bin/icsdn");
const hasOvs = spawnSync("ovs-vswitchd", ["--version"]).status === 0;

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

function run(...args: string[]) {
  return spawnSync(icsdn, ["controller", "pki", ...args], { encoding: "utf8" });
}

describe("icsdn controller pki", () => {
  it("creates a CA, the controller's and each member's key and certificate; keys 0600, never printed", () => {
    const pki = join(dir("icsdn-pki-"), "pki");
    const init = run("init", "--dir", pki);
    expect(init.status, init.stderr).toBe(0);
    const issue = run("issue", "--dir", pki, "--cluster", "web", "--name", "vm1");
    expect(issue.status, issue.stderr).toBe(0);
    for (const out of [init.stdout, init.stderr, issue.stdout, issue.stderr])
      expect(out).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(readdirSync(pki).sort()).toEqual([
      "ca-db",
      "ca.crt",
      "ca.key",
      "controller.crt",
      "controller.key",
      "crl.pem",
      "web.vm1.crt",
      "web.vm1.key",
    ]);
    for (const key of ["ca.key", "controller.key", "web.vm1.key"]) {
      expect(statSync(join(pki, key)).mode & 0o777, key).toBe(0o600);
      expect(readFileSync(join(pki, key), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
    expect(statSync(pki).mode & 0o777).toBe(0o700);
    const verify = spawnSync(
      "openssl",
      ["verify", "-CAfile", join(pki, "ca.crt"), join(pki, "web.vm1.crt"), join(pki, "controller.crt")],
      { encoding: "utf8" },
    );
    expect(verify.stdout).toMatch(/web\.vm1\.crt: OK[\s\S]*controller\.crt: OK/);
    // The member is in the subject and, what the controller reads, in the URI SAN; client use only.
    const cert = new X509Certificate(readFileSync(join(pki, "web.vm1.crt")));
    expect(cert.subjectAltName).toBe("URI:urn:icsdn:member:web/vm1");
    expect(cert.subject.split("\n").sort()).toEqual(["CN=vm1", "O=icsdn cluster web"]);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(new X509Certificate(readFileSync(join(pki, "controller.crt"))).keyUsage).toEqual([
      "1.3.6.1.5.5.7.3.1",
    ]);
    expect(run("issue", "--dir", pki, "--cluster", "web", "--name", "vm1").stderr).toMatch(
      /PKI_EXISTS: .*web\.vm1\.crt or its key already exists/,
    );
    // The same VM name in another cluster is another member.
    expect(run("issue", "--dir", pki, "--cluster", "db", "--name", "vm1").status).toBe(0);
    expect(run("issue", "--dir", dir("icsdn-pki-"), "--cluster", "web", "--name", "vm2").stderr).toMatch(
      /PKI_MISSING: .* has no CA/,
    );
    expect(run("issue", "--dir", pki, "--cluster", "web", "--name", "Bad_Name").stderr).toMatch(
      /BAD_NAME: --name: 'Bad_Name'/,
    );
    expect(run("issue", "--dir", pki, "--cluster", "We b", "--name", "vm3").stderr).toMatch(
      /BAD_NAME: --cluster: 'We b'/,
    );
    expect(run("issue", "--dir", pki, "--name", "vm3").stderr).toMatch(/--cluster is required/);
  });

  it("revokes a member's certificate: the CRL lists its serial, its files go, it can be issued again", () => {
    const pki = join(dir("icsdn-pki-"), "pki");
    expect(run("init", "--dir", pki).status).toBe(0);
    const crl = () =>
      spawnSync("openssl", ["crl", "-in", join(pki, "crl.pem"), "-noout", "-text"], { encoding: "utf8" })
        .stdout;
    expect(crl()).toMatch(/No Revoked Certificates/);
    expect(run("issue", "--dir", pki, "--cluster", "web", "--name", "vm1").status).toBe(0);
    expect(run("issue", "--dir", pki, "--cluster", "web", "--name", "vm2").status).toBe(0);
    const serial = new X509Certificate(readFileSync(join(pki, "web.vm1.crt"))).serialNumber;
    const revoke = run("revoke", "--dir", pki, "--cluster", "web", "--name", "vm1");
    expect(revoke.status, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain(`revoked web/vm1 (serial ${serial})`);
    const listed = [...crl().matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]);
    expect(listed).toEqual([serial]);
    expect(readdirSync(pki)).not.toContain("web.vm1.crt");
    expect(readdirSync(pki)).not.toContain("web.vm1.key");
    expect(readdirSync(join(pki, "revoked"))).toEqual([`${serial}.crt`]);
    expect(run("revoke", "--dir", pki, "--cluster", "web", "--name", "vm1").stderr).toMatch(
      /PKI_MISSING: web\/vm1 has no certificate/,
    );
    expect(run("issue", "--dir", pki, "--cluster", "web", "--name", "vm1").status).toBe(0);
    expect(run("revoke", "--dir", pki, "--cluster", "web", "--name", "vm2").status).toBe(0);
    expect([...crl().matchAll(/Serial Number: ([0-9A-F]+)/g)]).toHaveLength(2);
  });
});

describe("icsdn controller serve: TLS options", () => {
  it("--allow-unbound-certificates is for a TLS listener only; --help names it", () => {
    const db = join(dir("icsdn-serve-"), "c.db");
    const r = spawnSync(
      icsdn,
      ["controller", "serve", "--db", db, "--insecure-no-auth", "--allow-unbound-certificates"],
      {
        encoding: "utf8",
      },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--allow-unbound-certificates is for --openflow-tls/);
    const help = spawnSync(icsdn, ["controller", "--help"], { encoding: "utf8" });
    expect(help.stdout).toMatch(/--allow-unbound-certificates\s+also admit certificates that name no member/);
    expect(help.stdout).toMatch(/pki init\|issue\|revoke/);
  });
});

describe.skipIf(!hasOvs)("OpenFlow over mutual TLS with real Open vSwitch", () => {
  it("accepts a switch whose certificate our CA signed, and refuses one signed by another CA", async () => {
    const pki = join(dir("icsdn-pki-"), "ours");
    const theirs = join(dir("icsdn-pki-"), "theirs");
    await pkiInit(pki);
    await pkiInit(theirs);
    const good = await pkiIssue(pki, { clusterId: "web", vmId: "vm1" });
    const forged = await pkiIssue(theirs, { clusterId: "web", vmId: "vm2" });
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
      () =>
        h.log.entries.some(
          (e) =>
            e.msg === "connection closed before completing the handshake" && e.fields.transport === "tls",
        ),
      "the forged switch refused",
      10_000,
    );
    expect((await h.server.fabric.switches()).map((s) => s.dpid)).toEqual([a.dpid]);
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
    expect(await h.server.fabric.switches()).toEqual([]);
  });
});

describe.skipIf(!hasOvs)("icsdn controller serve --openflow-tls", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("listens on TCP and TLS, takes a member's switch over TLS, reloads the CRL on SIGHUP", async () => {
    const pki = join(dir("icsdn-pki-"), "pki");
    await pkiInit(pki);
    const vm = await pkiIssue(pki, { clusterId: "web", vmId: "vm9" });
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
        "info",
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
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
    });
    const line = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on("data", () => {
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
    const created = await fetch(`${url}/v1/clusters`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "web",
        vni: 7,
        tunnel: "vxlan",
        members: [{ vmId: "vm9", vint0: "198.18.0.9" }],
      }),
    });
    expect(created.status).toBe(201);
    const dpid = datapathIdFor(7, "198.18.0.9");
    startOvsSwitch({
      dpid,
      target: `ssl:127.0.0.1:${sslPort}`,
      ssl: { ...vm, ca: join(pki, "ca.crt") },
    });
    const seen = await waitFor(
      async () => {
        const body = (await (await fetch(`${url}/v1/switches`)).json()) as {
          switches: { dpid: string; connected: boolean }[];
        };
        return body.switches.find((s) => s.dpid === formatDpid(dpid) && s.connected);
      },
      "the switch in /v1/switches",
      15_000,
    );
    expect(seen).toMatchObject({ clusterId: "web", vmId: "vm9" });
    child.kill("SIGHUP");
    await waitFor(() => out.includes('"msg":"CRL reloaded"'), "the CRL reloaded on SIGHUP", 5_000);
    const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
