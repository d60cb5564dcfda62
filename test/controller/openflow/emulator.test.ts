import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import { OFPET, OFPHFC } from "../../../proto/index.ts";
import { EmulatedNetwork } from "../../support/switch-emulator/dataplane.ts";
import { SwitchEmulator } from "../../support/switch-emulator/emulator.ts";
import {
  contents,
  expectedContents,
  pairRefusingIngress,
  RawClient,
  tableRules,
} from "./support/emulated.ts";
import {
  type FabricErrorBody,
  type HarnessOptions,
  type OfHarness,
  type RebindBody,
  reconciledCount,
  type SwitchesBody,
  startHarness,
  waitFor,
} from "./support/harness.ts";

const PROBE = 48879;
const probes = { probePort: PROBE };
const dpid = (vint0: string) => datapathIdFor(42, vint0);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(options: HarnessOptions = {}): Promise<OfHarness> {
  const h = await startHarness({ probePort: PROBE, ...options });
  cleanups.push(() => h.close());
  return h;
}

function emulator(h: OfHarness, network?: EmulatedNetwork): SwitchEmulator {
  const emu = new SwitchEmulator({
    controller: { host: "127.0.0.1", port: h.tcpPort },
    ...(network && { network }),
  });
  cleanups.push(() => emu.close());
  return emu;
}

const members = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => ({
    vmId: `vm${from + i}`,
    vint0: `198.18.${(from + i) >> 8}.${(from + i) & 255}`,
    endpoint: `192.0.2.${from + i}`,
  }));

describe("switch sessions (emulated switches over TCP)", () => {
  it("maps each switch's dpid to its member, programs members only, and lists an unknown switch", async () => {
    const h = await harness();
    expect(
      (await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(2) }))
        .status,
    ).toBe(201);
    const emu = emulator(h);
    const a = emu.add({ dpid: dpid("198.18.0.1") });
    const b = emu.add({ dpid: dpid("198.18.0.2") });
    const stranger = emu.add({ dpid: 0xabcdn });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 3, "three reconciles");
    const state = h.controller.store.clusterState("web")!;
    expect(contents(tableRules(a))).toEqual(expectedContents(state, "vm1", probes));
    expect(contents(tableRules(b))).toEqual(expectedContents(state, "vm2", probes));
    expect(stranger.table.size).toBe(0);
    const switches = (await h.api<SwitchesBody>("GET", "/v1/switches")).body.switches;
    expect(switches).toContainEqual(
      expect.objectContaining({
        dpid: "000000000000abcd",
        clusterId: null,
        connected: true,
        desiredRuleCount: null,
      }),
    );
    expect(switches).toContainEqual(
      expect.objectContaining({ vmId: "vm1", connected: true, ruleCount: 5, desiredRuleCount: 5 }),
    );
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_switches_connected 3$/m);
    expect(metrics).toMatch(/^icsdn_flow_mods_total 10$/m);
  });

  it("rebinds through REST with the old and new instance connected: new gets all, peers move make-before-break, old is left alone", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(3) });
    const network = new EmulatedNetwork();
    const emu = emulator(h, network);
    const peers = [
      emu.add({ dpid: dpid("198.18.0.1"), endpoint: "192.0.2.1" }),
      emu.add({ dpid: dpid("198.18.0.2"), endpoint: "192.0.2.2" }),
    ];
    const old = emu.add({ dpid: dpid("198.18.0.3"), endpoint: "192.0.2.3" });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 3, "reconciles");
    const oldRules = contents(tableRules(old));
    // The moved VM boots elsewhere: same dpid, new underlay address, connected after the old one.
    const fresh = emu.add({ dpid: dpid("198.18.0.3"), endpoint: "203.0.113.30" });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 4, "the new instance's reconcile");

    const release = h.holdProbes();
    const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/vm3/rebind", {
      endpoint: "203.0.113.30",
    });
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body.phases.map((p) => [p.phase, p.switches.map((s) => `${s.vmId}:${s.status}`)])).toEqual([
      ["prepare", ["vm1:confirmed", "vm2:confirmed", "vm3:confirmed"]],
      ["switch", ["vm1:confirmed", "vm2:confirmed"]],
    ]);
    // Answered before the downtime is known; the history gets it once the probes' tail is over.
    expect(await h.rebindRecord("web", "vm3", body.rebindId, false)).toMatchObject({
      completion: "pending",
      downtime: null,
    });
    release();
    const record = await h.rebindRecord("web", "vm3", body.rebindId);
    expect(record.cleanup!.switches.map((s) => `${s.vmId}:${s.status}`)).toEqual([
      "vm1:confirmed",
      "vm2:confirmed",
    ]);
    const after = h.controller.store.clusterState("web")!;
    expect(contents(tableRules(fresh))).toEqual(expectedContents(after, "vm3", probes));
    expect(contents(tableRules(peers[0]!))).toEqual(expectedContents(after, "vm1", probes));
    expect(contents(tableRules(peers[1]!))).toEqual(expectedContents(after, "vm2", probes));
    expect(contents(tableRules(old))).toEqual(oldRules);
    // Both instances stay connected.
    const vm3 = (await h.api<SwitchesBody>("GET", "/v1/switches")).body.switches.filter(
      (s) => s.vmId === "vm3",
    );
    expect(vm3).toHaveLength(2);

    // Probes: from each peer to vm3, first reaching the old instance, then the new one.
    expect(record.downtime).toMatchObject({
      intervalMs: 1,
      links: [
        { from: "vm1", to: "vm3" },
        { from: "vm2", to: "vm3" },
      ],
    });
    for (const link of record.downtime!.links) expect(link.received).toBeGreaterThan(0);
    expect(record.downtime!.ms).toBeLessThan(100);
    expect(old.counters.packetIns).toBeGreaterThan(0);
    expect(fresh.counters.packetIns).toBeGreaterThan(0);
    // Priming: each peer sent a probe straight into the tunnel to the new endpoint before any phase.
    expect(h.log.entries).toContainEqual(
      expect.objectContaining({
        msg: "primed tunnel next hops",
        fields: expect.objectContaining({ packets: 4 }),
      }),
    );
    await waitFor(
      () => h.log.entries.filter((e) => e.msg === "priming probe arrived").length >= 2,
      "primes at the new instance",
    );
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_downtime_seconds_count 1$/m);
    expect(h.server.probes.active).toBe(0);
  });

  it("after an announcement, the rebind primes nothing again (announce and reconcile did) and still measures downtime", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(3) });
    const network = new EmulatedNetwork();
    const emu = emulator(h, network);
    const peers = [1, 2].map((i) => emu.add({ dpid: dpid(`198.18.0.${i}`), endpoint: `192.0.2.${i}` }));
    emu.add({ dpid: dpid("198.18.0.3"), endpoint: "192.0.2.3" });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 3, "reconciles");
    emu.add({ dpid: dpid("198.18.0.3"), endpoint: "203.0.113.30" });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 4, "the new instance's reconcile");
    const announced = await h.api("PUT", "/v1/clusters/web/members/vm3/next-endpoint", {
      endpoint: "203.0.113.30",
    });
    expect(announced.status).toBe(200);
    // The announcement primed every peer's next hop toward the new endpoint.
    await waitFor(() => peers.every((p) => p.counters.packetOuts >= 1), "priming at the announcement");
    const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/vm3/rebind", {
      endpoint: "203.0.113.30",
    });
    expect(res.status).toBe(200);
    expect(h.log.entries.filter((e) => e.msg === "primed tunnel next hops")).toEqual([]);
    const record = await h.rebindRecord("web", "vm3", res.body.rebindId);
    expect(record.downtime!.links.map((l) => l.received > 0)).toEqual([true, true]);
  });

  it("fails a batch with the switch's error, counts it by type and code, commits nothing, and reconciles the switch", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(2) });
    const emu = emulator(h);
    let refusing = false;
    const a = pairRefusingIngress(emu, () => refusing);
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 2, "reconciles");
    const before = contents(tableRules(a));
    refusing = true;
    const res = await h.api<FabricErrorBody>("POST", "/v1/clusters/web/members/vm2/rebind", {
      endpoint: "203.0.113.2",
    });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("FABRIC_FAILED");
    const prepare = res.body.details.phases[0]!;
    expect(prepare.switches).toContainEqual(
      expect.objectContaining({
        vmId: "vm1",
        status: "failed",
        error: expect.objectContaining({
          type: "BAD_MATCH",
          code: "BAD_PREREQ",
          message: expect.stringMatching(/refused FLOW_MOD/),
        }),
      }),
    );
    expect(contents(tableRules(a))).toEqual(before);
    expect(h.controller.store.getMember("web", "vm2")!.endpoint).toBe("192.0.2.2");
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_openflow_errors_total\{type="BAD_MATCH",code="BAD_PREREQ"\} 1$/m);
    expect(metrics).toMatch(/^icsdn_openflow_errors_total\{type="EXPERIMENTER",code="MSG_FAILED"\} 1$/m);
    refusing = false;
    // The failed switch is reconciled to the stored state (here: what it already holds).
    await waitFor(
      () => h.reconciles.filter((r) => r.session.dpid === a.dpid).length >= 2,
      "reconcile after the failure",
    );
    expect(h.reconciles.at(-1)!.result).toEqual({ status: "in-sync", rules: 5 });
  });

  it("drops a switch that stops answering within 3 echo intervals", async () => {
    const h = await harness({ openflow: { session: { echoIntervalMs: 100 } } });
    const emu = emulator(h);
    const mute = emu.add({ dpid: 0x99n, answerEcho: false });
    const alive = emu.add({ dpid: 0x98n });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 2, "handshakes");
    const since = performance.now();
    await waitFor(() => h.closes.find((c) => c.session.dpid === mute.dpid), "the mute switch dropped", 2_000);
    const dropped = h.closes.find((c) => c.session.dpid === mute.dpid)!;
    expect(dropped.at - since).toBeLessThanOrEqual(300 + 30);
    expect(dropped.reason.reason).toMatch(/no message for \d+ ms \(echo interval 100 ms\)/);
    await new Promise((r) => setTimeout(r, 400));
    expect(h.closes.some((c) => c.session.dpid === alive.dpid)).toBe(false);
    expect((await h.server.fabric.switches()).map((s) => s.dpid)).toEqual([alive.dpid]);
  });

  it("answers a HELLO without OpenFlow 1.3 with HELLO_FAILED/INCOMPATIBLE and closes", async () => {
    const h = await harness();
    const c = await RawClient.open(h.tcpPort);
    cleanups.push(() => c.socket.destroy());
    c.send({ type: "HELLO", xid: 9, version: 1, elements: [{ kind: "VERSION_BITMAP", versions: [1] }] });
    await c.closed;
    expect(c.received.map((m) => m.type)).toEqual(["HELLO", "ERROR"]);
    expect(c.received[1]).toMatchObject({
      xid: 9,
      version: 1,
      errorType: OFPET.HELLO_FAILED,
      code: OFPHFC.INCOMPATIBLE,
    });
    // Per connection at debug; at warn only in aggregate (anyone can send such a HELLO).
    expect(h.log.entries).toContainEqual(
      expect.objectContaining({ level: "debug", msg: "switch refused: no common OpenFlow version" }),
    );
    expect(h.log.entries).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "connection closed before completing the handshake",
        fields: expect.objectContaining({ reason: expect.stringMatching(/^no common version/) }),
      }),
    );
  });

  it("drops garbage, truncated and out-of-order peers, logged per connection at debug only; a connected switch carries on", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(2) });
    const emu = emulator(h);
    const a = emu.add({ dpid: dpid("198.18.0.1") });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 1, "reconcile");

    const peers = await Promise.all([1, 2, 3, 4].map(() => RawClient.open(h.tcpPort)));
    for (const p of peers) cleanups.push(() => p.socket.destroy());
    peers[0]!.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    peers[1]!.write(new Uint8Array([4, 0, 0, 64, 0, 0, 0, 1, 0, 1, 0, 8]));
    peers[1]!.socket.end();
    peers[2]!.send({ type: "BARRIER_REPLY", xid: 3 });
    peers[3]!.send({ type: "HELLO", xid: 1, elements: [{ kind: "VERSION_BITMAP", versions: [4] }] });
    peers[3]!.write(
      new Uint8Array([4, 14, 0, 16, 0, 0, 0, 2, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef]),
    );
    await Promise.all(peers.map((p) => p.closed));
    expect(h.log.entries.filter((e) => e.level === "error")).toEqual([]);
    const errors = h.log.entries
      .filter((e) => e.level === "debug" && e.msg === "connection closed before the handshake")
      .map((e) => String(e.fields.reason));
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^not OpenFlow: not an OpenFlow header: version byte 0x47/),
        expect.stringMatching(/^connection ended inside a message \(12 bytes of it received\)/),
        "expected HELLO first, got BARRIER_REPLY",
        expect.stringMatching(/^undecodable message: /),
      ]),
    );
    // The real switch never noticed.
    expect(h.closes.some((c) => c.session.dpid === a.dpid)).toBe(false);
    const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/vm1/rebind", {
      endpoint: "203.0.113.1",
    });
    expect(res.status).toBe(200);
  });

  it("reconciles a reconnecting switch from a multipart FLOW reply, sending nothing when it is in sync", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "big", vni: 42, tunnel: "vxlan", members: members(80) });
    const emu = emulator(h);
    const a = emu.add({ dpid: dpid("198.18.0.1") });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 1, "first reconcile");
    expect(a.table.size).toBe(3 * 79 + 79 + 1);
    const flowMods = a.counters.flowMods;
    a.close();
    await waitFor(() => h.closes.length === 1, "disconnect");
    // While away: one of our rules lost, one stale rule of ours left behind.
    const lost = [...a.table.entries()][7]!;
    a.table.apply({
      ...(await import("../../support/switch-emulator/flow-table.ts")).readFlowMod(lost.bytes),
      command: "DELETE_STRICT",
      cookieMask: 0n,
    });
    await a.connect();
    await waitFor(() => reconciledCount(h) === 2, "reconcile on reconnect");
    expect(h.reconciles.at(-1)!.result).toMatchObject({ status: "updated", added: 1, deleted: 0 });
    expect(a.counters.flowMods - flowMods).toBe(1);
    a.close();
    await waitFor(() => h.closes.length === 2, "disconnect");
    await a.connect();
    await waitFor(() => reconciledCount(h) === 3, "reconcile in sync");
    expect(h.reconciles.at(-1)!.result).toEqual({ status: "in-sync", rules: 3 * 79 + 79 + 1 });
    expect(a.counters.flowMods - flowMods).toBe(1);
  });
});

describe("a 16-member cluster of emulated switches", () => {
  it("rebinds one member across every switch; update time and downtime reported", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(16) });
    const emu = emulator(h, new EmulatedNetwork());
    const all = members(16).map((m) => emu.add({ dpid: dpid(m.vint0), endpoint: m.endpoint }));
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 16, "16 reconciles");
    const times: number[] = [];
    for (const [i, endpoint] of ["203.0.113.5", "198.51.100.5", "203.0.113.55"].entries()) {
      const moved = emu.add({ dpid: dpid("198.18.0.5"), endpoint });
      await emu.connectAll();
      await waitFor(() => reconciledCount(h) === 17 + i, "new instance reconciled");
      const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/vm5/rebind", { endpoint });
      expect(res.status).toBe(200);
      times.push(res.body.updateMs);
      expect((await h.rebindRecord("web", "vm5", res.body.rebindId)).downtime!.links).toHaveLength(4);
      const state = h.controller.store.clusterState("web")!;
      expect(contents(tableRules(moved))).toEqual(expectedContents(state, "vm5", probes));
      expect(contents(tableRules(all[0]!))).toEqual(expectedContents(state, "vm1", probes));
    }
    console.log(`16 emulated switches: rebind update time ${times.map((t) => t.toFixed(1)).join(", ")} ms`);
  });
});
