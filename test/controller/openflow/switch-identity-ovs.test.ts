/**
 * A switch's certificate binds it to its member, over the mutual-TLS listener with real Open
 * vSwitch daemons (and a raw TLS client where the exact bytes matter): another member's dpid, a
 * dpid of no member and a certificate naming no member are refused before anything is sent; a
 * revoked certificate is refused from its next connection on, the listener running on; and
 * connections that never complete a handshake cannot flood the log.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import type { Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import type { OpenFlowOptions } from "../../../controller/openflow/openflow-server.ts";
import {
  type IssuedFiles,
  loadTlsMaterial,
  pkiInit,
  pkiIssue,
  pkiRevoke,
} from "../../../controller/openflow/pki.ts";
import {
  decodeMessage,
  encodeMessage,
  MessageFramer,
  OFPET,
  OFPHFC,
  type OfpMessage,
} from "../../../proto/index.ts";
import { tempDir } from "../support/fixtures.ts";
import { type OfHarness, startHarness, waitFor } from "./support/harness.ts";
import { type OvsSwitch, stableFlows, startOvsSwitch, stopAllOvs } from "./support/ovs-switch.ts";

// Under CI a missing OVS must fail, not skip.
const hasOvs = spawnSync("ovs-vswitchd", ["--version"]).status === 0 || process.env.CI === "true";
const VNI = 42;
const dpidOf = (n: number) => datapathIdFor(VNI, `198.18.0.${n}`);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  stopAllOvs();
});

async function newPki(): Promise<string> {
  const d = tempDir("icsdn-identity-");
  cleanups.push(d.remove);
  const pki = join(d.path, "pki");
  await pkiInit(pki);
  return pki;
}

async function harness(pki: string, tls: Partial<NonNullable<OpenFlowOptions["tls"]>> = {}) {
  const material = await loadTlsMaterial(pki);
  const h = await startHarness({ openflow: { tls: { host: "127.0.0.1", port: 0, material, ...tls } } });
  cleanups.push(() => h.close());
  const created = await h.api("POST", "/v1/clusters", {
    id: "web",
    vni: VNI,
    tunnel: "vxlan",
    members: [1, 2].map((n) => ({ vmId: `vm${n}`, vint0: `198.18.0.${n}`, endpoint: `192.0.2.${n}` })),
  });
  expect(created.status).toBe(201);
  return h;
}

function ovs(h: OfHarness, pki: string, dpid: bigint, files: IssuedFiles): OvsSwitch {
  return startOvsSwitch({
    dpid,
    target: `ssl:127.0.0.1:${h.tlsPort}`,
    ssl: { ...files, ca: join(pki, "ca.crt") },
  });
}

async function count<L extends string>(c: Counter<L>, labels: Partial<Record<L, string>>): Promise<number> {
  const { values } = await c.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k as L] === x))?.value ?? 0;
}

const refusedLines = (h: OfHarness) => h.log.entries.filter((e) => e.msg.startsWith("switch refused"));

/**
 * A switch over TLS speaking just enough OpenFlow: answers HELLO and FEATURES_REQUEST with `dpid`,
 * and reports every message the controller sent until it closed (or `ms` passed).
 */
function rawTlsSwitch(
  port: number,
  files: IssuedFiles,
  ca: string,
  dpid: bigint,
  ms = 3000,
): Promise<OfpMessage[]> {
  return new Promise((resolve) => {
    const got: OfpMessage[] = [];
    const framer = new MessageFramer();
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      key: readFileSync(files.key),
      cert: readFileSync(files.cert),
      ca: readFileSync(ca),
      checkServerIdentity: () => undefined,
    });
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, ms);
    s.on("secureConnect", () => s.write(encodeMessage({ type: "HELLO", xid: 1, elements: [] })));
    s.on("data", (chunk: Buffer) => {
      for (const frame of framer.push(new Uint8Array(chunk))) {
        const m = decodeMessage(frame);
        got.push(m);
        if (m.type === "FEATURES_REQUEST") {
          s.write(
            encodeMessage({
              type: "FEATURES_REPLY",
              xid: m.xid,
              datapathId: dpid,
              nBuffers: 0,
              nTables: 254,
              auxiliaryId: 0,
              capabilities: 0,
              reserved: 0,
            }),
          );
        }
      }
    });
    s.on("error", done);
    s.on("close", done);
  });
}

/** A certificate from our CA the way pki issue made them before they named a member: CN and DNS SAN only. */
function unboundCertificate(pki: string, name: string): IssuedFiles {
  const key = join(pki, `${name}.key`);
  const cert = join(pki, `${name}.crt`);
  const ext = join(pki, `${name}.ext`);
  const run = (args: string[], input?: string) => {
    const r = spawnSync("openssl", args, { encoding: "utf8", input });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    return r.stdout;
  };
  run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
  spawnSync("sh", [
    "-c",
    `printf 'extendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=DNS:${name}\\n' > ${ext}`,
  ]);
  const csr = run(["req", "-new", "-key", key, "-subj", `/CN=${name}`]);
  run(
    [
      "x509",
      "-req",
      "-CA",
      join(pki, "ca.crt"),
      "-CAkey",
      join(pki, "ca.key"),
      "-days",
      "1",
      "-extfile",
      ext,
      "-out",
      cert,
    ],
    csr,
  );
  return { key, cert };
}

describe.skipIf(!hasOvs)("a switch's certificate binds it to its member (real OVS over ssl:)", () => {
  it("vm1's certificate announcing vm2's dpid is refused before it receives anything; vm1's own switch is served", async () => {
    const pki = await newPki();
    const vm1 = await pkiIssue(pki, { clusterId: "web", vmId: "vm1" });
    const h = await harness(pki);
    const imposter = ovs(h, pki, dpidOf(2), vm1);
    const real = ovs(h, pki, dpidOf(1), vm1);
    const { metrics } = h.controller;
    await waitFor(
      () => h.reconciles.some((r) => r.session.dpid === dpidOf(1)),
      "vm1's switch reconciled",
      15_000,
    );
    await waitFor(
      async () => (await count(metrics.switchIdentityRefusedTotal, { reason: "other-member" })) >= 1,
      "the imposter refused",
      15_000,
    );
    expect(real.dumpFlows().length).toBeGreaterThan(0);
    // One line per refusal, naming both members; nothing at error level.
    const lines = refusedLines(h);
    expect(lines.length).toBe(await count(metrics.switchIdentityRefusedTotal, { reason: "other-member" }));
    expect(lines[0]).toMatchObject({
      level: "warn",
      msg: "switch refused: the datapath id is web/vm2's, the certificate web/vm1's",
      fields: { reason: "other-member", certificateMember: "web/vm1", dpidMember: "web/vm2" },
    });
    expect(h.log.entries.filter((e) => e.level === "error")).toEqual([]);
    // It got nothing: no rule, no reconcile, not connected as vm2.
    expect(imposter.dumpFlows()).toEqual([]);
    expect(h.reconciles.filter((r) => r.session.dpid === dpidOf(2))).toEqual([]);
    const switches = await h.api<{ switches: { vmId: string | null; connected: boolean }[] }>(
      "GET",
      "/v1/switches",
    );
    expect(switches.body.switches.filter((s) => s.connected).map((s) => s.vmId)).toEqual(["vm1"]);
    const scrape = await fetch(`${h.controller.url}/metrics`).then((r) => r.text());
    expect(scrape).toMatch(/icsdn_switch_identity_refused_total\{reason="other-member"\} [1-9]/);
  });

  it("on the wire: HELLO, FEATURES_REQUEST, then HELLO_FAILED/EPERM and the connection closed", async () => {
    const pki = await newPki();
    const vm1 = await pkiIssue(pki, { clusterId: "web", vmId: "vm1" });
    const h = await harness(pki);
    const ca = join(pki, "ca.crt");
    for (const [dpid, reason] of [
      [dpidOf(2), "other-member"],
      [dpidOf(9), "no-member"],
    ] as const) {
      const got = await rawTlsSwitch(h.tlsPort!, vm1, ca, dpid);
      expect(got.map((m) => m.type)).toEqual(["HELLO", "FEATURES_REQUEST", "ERROR"]);
      expect(got[2]).toMatchObject({ errorType: OFPET.HELLO_FAILED, code: OFPHFC.EPERM });
      expect(await count(h.controller.metrics.switchIdentityRefusedTotal, { reason })).toBe(1);
    }
    // Its own dpid: admitted, so the controller goes on (reconcile: a flow stats request).
    const own = await rawTlsSwitch(h.tlsPort!, vm1, ca, dpidOf(1), 1000);
    expect(own.map((m) => m.type).slice(0, 3)).toEqual(["HELLO", "FEATURES_REQUEST", "MULTIPART_REQUEST"]);
    expect(refusedLines(h)).toHaveLength(2);
  });

  it("refuses a certificate naming no member, unless the operator allows such certificates", async () => {
    const pki = await newPki();
    const old = unboundCertificate(pki, "vm1");
    const strict = await harness(pki);
    const refused = ovs(strict, pki, dpidOf(1), old);
    await waitFor(
      async () =>
        (await count(strict.controller.metrics.switchIdentityRefusedTotal, { reason: "unbound" })) >= 1,
      "the unbound certificate refused",
      15_000,
    );
    expect(refusedLines(strict)[0]).toMatchObject({
      msg: "switch refused: the certificate names no member",
      fields: { certificateMember: null, dpidMember: "web/vm1" },
    });
    expect(refused.dumpFlows()).toEqual([]);
    refused.stop();

    const lax = await harness(pki, { allowUnboundCertificates: true });
    const admitted = ovs(lax, pki, dpidOf(2), old);
    await waitFor(
      () => lax.reconciles.some((r) => r.session.dpid === dpidOf(2)),
      "admitted as any dpid",
      15_000,
    );
    expect(admitted.dumpFlows().length).toBeGreaterThan(0);
    expect(refusedLines(lax)).toEqual([]);
  });

  it("a session whose dpid passes to another member is refused before the new member's first batch", async () => {
    const pki = await newPki();
    const vm2 = await pkiIssue(pki, { clusterId: "web", vmId: "vm2" });
    const h = await harness(pki);
    const sw = ovs(h, pki, dpidOf(2), vm2);
    await waitFor(
      () => h.reconciles.some((r) => r.session.dpid === dpidOf(2)),
      "vm2's switch reconciled",
      15_000,
    );
    expect((await h.api("DELETE", "/v1/clusters/web/members/vm2")).status).toBe(204);
    // A removed member's switch keeps what it had; the controller no longer writes to it.
    const held = stableFlows(sw.dumpFlows());
    // vm5 takes vm2's cluster address, so vm2's dpid.
    const added = await h.api("POST", "/v1/clusters/web/members", {
      vmId: "vm5",
      vint0: "198.18.0.2",
      endpoint: "192.0.2.5",
    });
    expect(added.status).toBe(201);
    expect(refusedLines(h)[0]).toMatchObject({
      msg: "switch refused: the datapath id is now web/vm5's, the certificate web/vm2's",
      fields: { certificateMember: "web/vm2", dpidMember: "web/vm5" },
    });
    // Closed when the add was planned, before its batches: vm5's rules were sent to no one.
    const closed = h.closes.find((c) => c.session.dpid === dpidOf(2));
    expect(closed?.reason.reason).toBe(
      "refused: the datapath id is now web/vm5's, the certificate web/vm2's",
    );
    expect(stableFlows(sw.dumpFlows())).toEqual(held);
    // And when it comes back it is refused at admission.
    await waitFor(
      () =>
        refusedLines(h).some(
          (e) => e.msg === "switch refused: the datapath id is web/vm5's, the certificate web/vm2's",
        ),
      "vm2's switch refused on reconnect",
      15_000,
    );
    expect(stableFlows(sw.dumpFlows())).toEqual(held);
  });

  it("a revoked certificate's session ends, and it is refused from its next connection on; the listener keeps running", async () => {
    const pki = await newPki();
    const vm1 = await pkiIssue(pki, { clusterId: "web", vmId: "vm1" });
    const vm2 = await pkiIssue(pki, { clusterId: "web", vmId: "vm2" });
    const h = await harness(pki);
    ovs(h, pki, dpidOf(1), vm1);
    await waitFor(
      () => h.reconciles.some((r) => r.session.dpid === dpidOf(1)),
      "vm1's switch reconciled",
      15_000,
    );
    const { metrics } = h.controller;
    const tlsFailures = () => count(metrics.handshakeFailuresTotal, { transport: "tls" });
    const before = await tlsFailures();
    const reconciled = h.reconciles.length;
    await pkiRevoke(pki, { clusterId: "web", vmId: "vm1" });
    // The watched CRL is reloaded, and the session of the revoked certificate ends at once.
    const ended = await waitFor(
      () => h.closes.find((c) => c.session.dpid === dpidOf(1)),
      "vm1's session ended by the new CRL",
      5_000,
    );
    expect(ended.reason).toEqual({ reason: "certificate revoked", error: false });
    expect(h.log.entries.some((e) => e.msg === "CRL reloaded")).toBe(true);
    expect(await count(metrics.switchIdentityRefusedTotal, { reason: "revoked" })).toBe(1);
    // Its switch comes back (OVS reconnects within a second): refused in the TLS handshake.
    await waitFor(async () => (await tlsFailures()) > before, "vm1's next connection refused", 15_000);
    // Another member's switch is served by the same listener, and vm1's still is not.
    ovs(h, pki, dpidOf(2), vm2);
    await waitFor(
      () => h.reconciles.some((r) => r.session.dpid === dpidOf(2)),
      "vm2's switch reconciled",
      15_000,
    );
    expect(h.reconciles.slice(reconciled).map((r) => r.session.dpid)).toEqual([dpidOf(2)]);
    expect(h.server.ready()).toBe(true);
    // A CRL that does not parse changes nothing: the one in force stays, and so does the listener.
    writeFileSync(join(pki, "crl.pem"), "not a CRL");
    await waitFor(
      () => h.log.entries.some((e) => e.msg === "CRL refused; the one in force stays"),
      "bad CRL refused",
    );
    expect(await h.server.reloadCrl()).toBe(false);
    await waitFor(async () => (await tlsFailures()) > before + 1, "vm1 still refused", 15_000);
    expect(h.reconciles.slice(reconciled).map((r) => r.session.dpid)).toEqual([dpidOf(2)]);
  });
});

describe("connections that never complete the OpenFlow handshake", () => {
  it("are counted, and logged in aggregate: no line per connection, none at error level", async () => {
    const h = await startHarness({ openflow: { handshakeFailureLogIntervalMs: 400 } });
    cleanups.push(() => h.close());
    const N = 200;
    await Promise.all(
      Array.from(
        { length: N },
        (_, i) =>
          new Promise<void>((resolve) => {
            const s = tcpConnect({ host: "127.0.0.1", port: h.tcpPort }, () => {
              // Half speak something else than OpenFlow, half hang up at once.
              if (i % 2 === 0) s.end("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
              else s.end();
            });
            s.on("data", () => {});
            s.on("close", () => resolve());
            s.on("error", () => resolve());
          }),
      ),
    );
    const failures = () => count(h.controller.metrics.handshakeFailuresTotal, { transport: "tcp" });
    await waitFor(async () => (await failures()) === N, `${N} failures counted`, 10_000);
    const summaries = () =>
      h.log.entries.filter(
        (e) =>
          e.msg === "connection closed before completing the handshake" ||
          e.msg === "connections closed before completing the handshake",
      );
    await waitFor(
      () => summaries().reduce((n, e) => n + ((e.fields.count as number | undefined) ?? 1), 0) === N,
      "every failure in a summary",
      5_000,
    );
    // One line at once, then one per 400 ms interval: a handful for 200 connections.
    expect(summaries().length).toBeLessThanOrEqual(4);
    expect(h.log.entries.filter((e) => e.level === "error")).toEqual([]);
    expect(h.log.entries.filter((e) => e.level !== "debug").length).toBeLessThanOrEqual(4 + 2);
  });
});
