import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import { compileSwitch } from "../../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../../controller/compiler/format.ts";
import type { SwitchBatch } from "../../../controller/compiler/transition-planner.ts";
import { requirePart } from "../../support/parts.ts";
import { tempDir } from "../support/fixtures.ts";
import { RawClient } from "./support/emulated.ts";
import {
  type HarnessOptions,
  type OfHarness,
  type RebindBody,
  type SwitchesBody,
  startHarness,
  waitFor,
} from "./support/harness.ts";
import {
  durations,
  type OvsSwitch,
  referenceFlows,
  stableFlows,
  startOvsSwitch,
  stopAllOvs,
} from "./support/ovs-switch.ts";

// Real Open vSwitch 3.1: private instances (own ovsdb-server and ovs-vswitchd, userspace
// datapath, temp dirs), each dialling our controller on 127.0.0.1 like a VM's icbr0 would.

const hasOvs = requirePart("ovs");
const PROBE = 48879;
const probes = { probePort: PROBE };
const dpid = (vint0: string) => datapathIdFor(42, vint0);
const twoMembers = [
  { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.1" },
  { vmId: "b", vint0: "198.18.0.2", endpoint: "192.0.2.2" },
];

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  stopAllOvs();
});

async function harness(options: HarnessOptions = {}): Promise<OfHarness> {
  const h = await startHarness({ probePort: PROBE, ...options });
  cleanups.push(() => h.close());
  return h;
}

function ovs(h: OfHarness, vint0: string, options: { protocols?: string } = {}): OvsSwitch {
  return startOvsSwitch({ dpid: dpid(vint0), target: `tcp:127.0.0.1:${h.tcpPort}`, ...options });
}

const reconciled = (h: OfHarness, sw: OvsSwitch, n = 1) =>
  waitFor(
    () => h.reconciles.filter((r) => r.session.dpid === sw.dpid).length >= n,
    `reconcile of ${sw.bridge}`,
    15_000,
  );

describe.skipIf(!hasOvs)("the controller with real Open vSwitch", () => {
  it("refuses a switch that speaks only OpenFlow 1.0 with HELLO_FAILED", async () => {
    const h = await harness();
    const sw = ovs(h, "198.18.0.1", { protocols: "OpenFlow10" });
    await waitFor(
      () => h.log.entries.some((e) => e.msg === "switch refused: no common OpenFlow version"),
      "refusal",
    );
    // OVS got our HELLO_FAILED and logs why.
    await waitFor(
      () =>
        /version negotiation failed|HELLO_FAILED/i.test(
          readFileSync(join(sw.dir, "ovs-vswitchd.log"), "utf8"),
        ),
      "OVS logs the failure",
    );
    expect(await h.server.fabric.switches()).toEqual([]);
  });

  it("maps each switch to its member by dpid and installs the compiled rules through bundles, as ovs-ofctl reads them", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: twoMembers });
    const a = ovs(h, "198.18.0.1");
    const b = ovs(h, "198.18.0.2");
    await reconciled(h, a);
    await reconciled(h, b);
    const state = h.controller.store.clusterState("web")!;
    for (const [sw, vm] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      const rules = compileSwitch(state, vm, probes);
      expect(stableFlows(sw.dumpFlows())).toEqual(referenceFlows(sw, rules.map(formatRule)));
      expect(sw.dumpFlows()).toHaveLength(5);
    }
    const switches = (await h.api<SwitchesBody>("GET", "/v1/switches")).body.switches;
    expect(switches).toEqual([
      expect.objectContaining({
        vmId: "a",
        connected: true,
        remoteAddress: "127.0.0.1",
        connectedForMs: expect.any(Number),
        ruleCount: 5,
        desiredRuleCount: 5,
      }),
      expect.objectContaining({
        vmId: "b",
        connected: true,
        remoteAddress: "127.0.0.1",
        ruleCount: 5,
        desiredRuleCount: 5,
      }),
    ]);
    // A member added: both switches' counts follow at once (from confirmed batches, no recount).
    await h.api("POST", "/v1/clusters/web/members", {
      vmId: "c",
      vint0: "198.18.0.3",
      endpoint: "192.0.2.3",
    });
    const counts = (await h.api<SwitchesBody>("GET", "/v1/switches")).body.switches
      .filter((s) => s.connected)
      .map((s) => s.ruleCount);
    expect(counts).toEqual([a.dumpFlows().length, b.dumpFlows().length]);
    expect(counts).toEqual([9, 9]);
  });

  it("rebinds through REST: the new instance gets every rule, the peer moves make-before-break, the old instance is left alone", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: twoMembers });
    const a = ovs(h, "198.18.0.1");
    const bOld = ovs(h, "198.18.0.2");
    await reconciled(h, a);
    await reconciled(h, bOld);
    const oldFlows = stableFlows(bOld.dumpFlows());
    // b's new instance (same dpid) connects from the same address (127.0.0.1): the newest session wins.
    const bNew = ovs(h, "198.18.0.2");
    await reconciled(h, bNew, 2);

    // What a holds after each phase, read from OVS between phases.
    const seen: { phase: number; flows: string[] }[] = [];
    const apply = h.server.fabric.apply.bind(h.server.fabric);
    h.server.fabric.apply = async (batches: readonly SwitchBatch[]) => {
      const outcomes = await apply(batches);
      seen.push({ phase: seen.length, flows: stableFlows(a.dumpFlows()) });
      return outcomes;
    };
    const release = h.holdProbes();
    const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/b/rebind", {
      endpoint: "203.0.113.2",
    });
    expect(res.status).toBe(200);
    // The answer comes at update time: the new endpoint is committed, the downtime not yet known.
    expect(res.body.phases.map((p: { phase: string }) => p.phase)).toEqual(["prepare", "switch"]);
    expect((await h.api("GET", "/v1/clusters/web/members/b")).body).toMatchObject({
      endpoint: "203.0.113.2",
    });
    const pending = await h.rebindRecord("web", "b", res.body.rebindId, false);
    expect(pending).toMatchObject({ completion: "pending", result: "ok", downtime: null, totalMs: null });
    release();
    // Later the history holds the rest: cleanup, total time, and the probes' verdict.
    const record = await h.rebindRecord("web", "b", res.body.rebindId);
    expect(record).toMatchObject({ id: pending.id, completion: "done", updateMs: res.body.updateMs });
    expect(record.cleanup).toMatchObject({
      phase: "cleanup",
      switches: [{ vmId: "a", status: "confirmed" }],
    });
    expect(record.totalMs).toBeGreaterThanOrEqual(res.body.updateMs);
    expect(seen).toHaveLength(3);
    const has = (flows: string[], text: string) => flows.some((f) => f.includes(text));
    const [prepare, switched, cleaned] = seen.map((s) => s.flows);
    // After prepare: a accepts both b's, still sends to the old one.
    expect(has(prepare!, "tun_src=192.0.2.2,in_port=1 actions=output:2")).toBe(true);
    expect(has(prepare!, "tun_src=203.0.113.2,in_port=1 actions=output:2")).toBe(true);
    expect(has(prepare!, "set_field:192.0.2.2->tun_dst")).toBe(true);
    // After switch: a sends to the new one only, still accepts both.
    expect(has(switched!, "set_field:192.0.2.2->tun_dst")).toBe(false);
    expect(has(switched!, "set_field:203.0.113.2->tun_dst")).toBe(true);
    expect(has(switched!, "tun_src=192.0.2.2,in_port=1 actions=output:2")).toBe(true);
    // After cleanup: only the new one.
    expect(has(cleaned!, "tun_src=192.0.2.2")).toBe(false);
    const state = h.controller.store.clusterState("web")!;
    expect(cleaned).toEqual(referenceFlows(a, compileSwitch(state, "a", probes).map(formatRule)));
    expect(stableFlows(bNew.dumpFlows())).toEqual(
      referenceFlows(bNew, compileSwitch(state, "b", probes).map(formatRule)),
    );
    expect(stableFlows(bOld.dumpFlows())).toEqual(oldFlows);
    // Neither connection flapped.
    expect(h.closes).toEqual([]);
    // OVS took every probe and priming PACKET_OUT (in_port=vint0 + output:TABLE; tunnel set_fields);
    // its dummy datapath delivers none through a tunnel, so nothing was measured.
    expect(record.downtime).toBeNull();
    expect(h.log.entries.filter((e) => e.level !== "info" && e.level !== "debug")).toEqual([]);
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).not.toMatch(/^icsdn_openflow_errors_total\{/m);
    expect(h.server.registry.sessionsOf(bOld.dpid)).toHaveLength(2);
    // Rule counts right after the rebind, without a recount: what each switch really holds.
    const counts = (await h.api<SwitchesBody>("GET", "/v1/switches")).body.switches.map((s) => s.ruleCount);
    expect(counts.sort()).toEqual([a, bOld, bNew].map((sw) => sw.dumpFlows().length).sort());
    console.log(
      `real OVS, 2 members (3 switches): rebind update time ${res.body.updateMs.toFixed(1)} ms (with ovs-ofctl reads between phases)`,
    );
  });

  it("reconciles a reconnecting switch: adds what is missing, deletes stale rules of ours, spares the rest, re-adds nothing", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: twoMembers });
    const a = ovs(h, "198.18.0.1");
    await reconciled(h, a);
    // Disconnected, the switch keeps its rules (fail_mode=secure); meanwhile it loses one, and gains
    // a stale rule of ours and someone else's rule.
    a.vsctl("set-controller", a.bridge, "tcp:127.0.0.1:9");
    await waitFor(() => h.closes.length === 1, "disconnect");
    a.ofctl("--strict", "del-flows", a.bridge, "priority=100,arp,in_port=2,arp_tpa=198.18.0.2");
    a.ofctl(
      "add-flow",
      a.bridge,
      "cookie=0x1c00002a03000000,priority=100,in_port=1,tun_id=0x2a,tun_src=192.0.2.99,actions=output:2",
    );
    a.ofctl("add-flow", a.bridge, "cookie=0x77,priority=5,in_port=2,actions=drop");
    await new Promise((r) => setTimeout(r, 1_100));
    const before = durations(a.dumpFlows());
    a.vsctl("set-controller", a.bridge, `tcp:127.0.0.1:${h.tcpPort}`);
    await reconciled(h, a, 2);
    expect(h.reconciles.at(-1)!.result).toMatchObject({ status: "updated", added: 1, deleted: 1 });
    const flows = a.dumpFlows();
    expect(stableFlows(flows).filter((f) => !f.startsWith("cookie=0x77,"))).toEqual(
      referenceFlows(a, compileSwitch(h.controller.store.clusterState("web")!, "a", probes).map(formatRule)),
    );
    expect(flows.some((f) => f.includes("cookie=0x77,"))).toBe(true);
    // Every rule that was right stayed in place: its age kept growing (never deleted and re-added).
    const after = durations(flows);
    for (const [flow, age] of before) {
      if (flow.includes("192.0.2.99")) continue;
      expect(after.get(flow), flow).toBeGreaterThanOrEqual(age);
    }
  });

  it("comes back after a controller restart without touching a single flow entry", async () => {
    const dir = tempDir("icsdn-of-restart-");
    cleanups.push(dir.remove);
    const dbPath = join(dir.path, "controller.db");
    const first = await startHarness({ probePort: PROBE, dbPath });
    let firstOpen = true;
    cleanups.push(async () => {
      if (firstOpen) await first.close();
    });
    await first.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: twoMembers });
    const a = ovs(first, "198.18.0.1");
    const b = ovs(first, "198.18.0.2");
    await reconciled(first, a);
    await reconciled(first, b);
    await new Promise((r) => setTimeout(r, 1_100));
    const before = [a, b].map((sw) => sw.dumpFlows());

    // The controller process goes away (the database stays) and comes back on the same port.
    await first.controller.close();
    firstOpen = false;
    const second = await harness({ dbPath, tcpPort: first.tcpPort });
    await waitFor(() => second.reconciles.length === 2, "both switches reconnect", 15_000);
    expect(second.reconciles.map((r) => r.result)).toEqual([
      { status: "in-sync", rules: 5 },
      { status: "in-sync", rules: 5 },
    ]);
    [a, b].forEach((sw, i) => {
      const now = sw.dumpFlows();
      expect(stableFlows(now)).toEqual(stableFlows(before[i]!));
      const then = durations(before[i]!);
      for (const [flow, age] of durations(now)) expect(age, flow).toBeGreaterThan(then.get(flow)!);
    });
    const metrics = await (await fetch(`${second.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_flow_mods_total 0$/m);
  });

  it("notices a switch that hangs within 3 echo intervals", async () => {
    const h = await harness({ openflow: { session: { echoIntervalMs: 200 } } });
    const a = ovs(h, "198.18.0.1");
    await reconciled(h, a);
    a.pause();
    const paused = performance.now();
    try {
      await waitFor(() => h.closes.length === 1, "the hung switch dropped", 3_000);
      // From the moment it froze: at most 3 intervals, plus a little scheduling.
      expect(h.closes[0]!.at - paused).toBeLessThanOrEqual(600 + 50);
      expect(h.closes[0]!.reason.reason).toMatch(/echo interval 200 ms/);
    } finally {
      a.resume();
    }
    await reconciled(h, a, 2);
  });

  it("drops a client sending garbage, logged (at warn, in aggregate), while a real switch stays connected", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: twoMembers });
    const a = ovs(h, "198.18.0.1");
    await reconciled(h, a);
    const bad = await RawClient.open(h.tcpPort);
    cleanups.push(() => bad.socket.destroy());
    bad.write(new Uint8Array(Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff)));
    await bad.closed;
    expect(h.log.entries).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "connection closed before completing the handshake",
        fields: expect.objectContaining({ reason: expect.stringMatching(/^not OpenFlow/) }),
      }),
    );
    expect(h.closes.filter((c) => c.session.dpid === a.dpid)).toEqual([]);
    const session = h.server.registry.sessionsOf(a.dpid)[0]!;
    await session.barrier();
  });
});
