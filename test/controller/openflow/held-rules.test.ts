import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import { diffRules } from "../../../controller/compiler/diff.ts";
import { compileSwitch } from "../../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../../controller/compiler/format.ts";
import type { SwitchBatch } from "../../../controller/compiler/transition-planner.ts";
import { HeldRuleIndex } from "../../../controller/openflow/held-rule-index.ts";
import { HeldRules } from "../../../controller/openflow/held-rules.ts";
import { requirePart } from "../../support/parts.ts";
import { SwitchEmulator } from "../../support/switch-emulator/emulator.ts";
import { contents, expectedContents, pairRefusingIngress, tableRules } from "./support/emulated.ts";
import {
  type OfHarness,
  type RebindBody,
  reconciledCount,
  startHarness,
  waitFor,
} from "./support/harness.ts";
import { referenceFlows, stableFlows, startOvsSwitch, stopAllOvs } from "./support/ovs-switch.ts";

// The fabric leaves out of a batch what the switch provably already holds (identical ADDs) or
// lacks (DELETEs of rules it does not hold), when the session's rules are known (held-rules.ts).

const PROBE = 48879;
const probes = { probePort: PROBE };
const dpid = (vint0: string) => datapathIdFor(42, vint0);
const hasOvs = requirePart("ovs");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  stopAllOvs();
});

async function harness(): Promise<OfHarness> {
  const h = await startHarness({ probePort: PROBE });
  cleanups.push(() => h.close());
  return h;
}

const members = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    vmId: `vm${i + 1}`,
    vint0: `198.18.0.${i + 1}`,
    endpoint: `192.0.2.${i + 1}`,
  }));

async function flowModsTotal(h: OfHarness): Promise<number> {
  const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
  return Number(/^icsdn_flow_mods_total (\d+)$/m.exec(metrics)![1]);
}

/** Adds a rebind of `vmId` to `endpoint` must send `vmId`'s own switch: what its rules change by. */
function ownChange(h: OfHarness, vmId: string, endpoint: string): number {
  const state = h.controller.store.clusterState("web")!;
  const after = {
    ...state,
    members: state.members.map((m) => (m.vmId === vmId ? { ...m, endpoint } : m)),
  } as typeof state;
  return diffRules(compileSwitch(state, vmId, probes), compileSwitch(after, vmId, probes)).add.length;
}

describe("HeldRules", () => {
  it("leaves out identical adds and deletes of rules not held, keeps changed and foreign ones", () => {
    const mark = 0x1cn << 56n;
    const rule = (priority: number, cookie: bigint, port = 1) => ({
      tableId: 0,
      priority,
      cookie,
      match: [],
      instructions: [
        { kind: "APPLY_ACTIONS" as const, actions: [{ kind: "OUTPUT" as const, port, maxLen: 0 }] },
      ],
    });
    const index = new HeldRuleIndex();
    const held = new HeldRules(index, [rule(1, mark | 1n), rule(2, mark | 2n)]);
    const send = held.toSend({
      add: [rule(1, mark | 1n), rule(2, mark | 2n, 9), rule(3, mark | 3n), rule(4, 5n)],
      delete: [rule(1, mark | 1n), rule(2, mark | 7n), rule(5, mark | 5n), rule(6, 6n)],
    });
    expect(send.add.map((r) => r.priority)).toEqual([2, 3, 4]);
    expect(send.delete.map((r) => r.priority)).toEqual([1, 6]);
    held.confirmed({ add: [rule(3, mark | 3n)], delete: [rule(1, mark | 1n)] });
    expect(held.size).toBe(2);
    expect(held.toSend({ add: [rule(3, mark | 3n)], delete: [rule(1, mark | 1n)] })).toEqual({
      add: [],
      delete: [],
    });
  });
});

describe("batches leave out what a switch holds (emulated switches)", () => {
  it("a back-and-forth rebind sends the moved member's switch only what changes; tables stay exact", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(3) });
    const emu = new SwitchEmulator({ controller: { host: "127.0.0.1", port: h.tcpPort } });
    cleanups.push(() => emu.close());
    const sws = [1, 2, 3].map((i) => emu.add({ dpid: dpid(`198.18.0.${i}`) }));
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 3, "reconciles");
    const moved = sws[2]!;
    const full = compileSwitch(h.controller.store.clusterState("web")!, "vm3", probes).length;
    for (let k = 0; k < 8; k++) {
      const endpoint = k % 2 === 0 ? "203.0.113.1" : "192.0.2.3";
      const expectedOwn = ownChange(h, "vm3", endpoint);
      const before = moved.counters.flowMods;
      const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/vm3/rebind", { endpoint });
      expect(res.status).toBe(200);
      // Peers' cleanup follows the answer.
      await h.controller.settled();
      expect(moved.counters.flowMods - before).toBe(expectedOwn);
      expect(expectedOwn).toBeLessThan(full);
      const own = res.body.phases[0]!.switches.find((s) => s.vmId === "vm3")!;
      expect(own.status).toBe("confirmed");
      expect(own.ms).toBeGreaterThanOrEqual(0);
      // The report says what was sent, not what the plan asked for.
      expect(own.added + own.deleted).toBe(expectedOwn);
      const state = h.controller.store.clusterState("web")!;
      for (const [i, sw] of sws.entries()) {
        expect(contents(tableRules(sw))).toEqual(expectedContents(state, `vm${i + 1}`, probes));
      }
    }
  });

  it("after a failed batch the switch's rules are unknown: the next batch is sent whole, until a reconcile", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(2) });
    const emu = new SwitchEmulator({ controller: { host: "127.0.0.1", port: h.tcpPort } });
    cleanups.push(() => emu.close());
    let refusing = false;
    const a = pairRefusingIngress(emu, () => refusing);
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 2, "reconciles");
    const session = () => h.server.registry.sessionsOf(a.dpid)[0]!;
    expect(session().knownRuleCount).toBe(5);

    // A rebind of vm2: vm1's prepare batch (accept the new endpoint) fails: right after it, before the reconcile, the set is unknown.
    const known: (number | null)[] = [];
    const apply = h.server.fabric.apply.bind(h.server.fabric);
    h.server.fabric.apply = async (batches: readonly SwitchBatch[]) => {
      const outcomes = await apply(batches);
      known.push(session().knownRuleCount);
      return outcomes;
    };
    refusing = true;
    const failed = await h.api("POST", "/v1/clusters/web/members/vm2/rebind", { endpoint: "203.0.113.2" });
    expect(failed.status).toBe(502);
    expect(known).toEqual([null]);
    refusing = false;
    await waitFor(() => h.reconciles.filter((r) => r.session.dpid === a.dpid).length >= 2, "reconcile");
    expect(h.reconciles.at(-1)!.result).toEqual({ status: "in-sync", rules: 5 });
    expect(session().knownRuleCount).toBe(5);

    // Known again: vm1's own switch gets only what changes...
    let before = a.counters.flowMods;
    expect(
      (await h.api("POST", "/v1/clusters/web/members/vm1/rebind", { endpoint: "203.0.113.1" })).status,
    ).toBe(200);
    expect(a.counters.flowMods - before).toBe(0);
    // ...and with its rules unknown (as after any failure), the whole set again.
    session().forgetHeldRules();
    before = a.counters.flowMods;
    expect(
      (await h.api("POST", "/v1/clusters/web/members/vm1/rebind", { endpoint: "192.0.2.1" })).status,
    ).toBe(200);
    expect(a.counters.flowMods - before).toBe(5);
    const state = h.controller.store.clusterState("web")!;
    expect(contents(tableRules(a))).toEqual(expectedContents(state, "vm1", probes));
  });
});

describe.skipIf(!hasOvs)("batches leave out what a switch holds (real Open vSwitch)", () => {
  it("many back-and-forth rebinds: the moved switch gets only changes, OVS holds the compiled set", async () => {
    const h = await harness();
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members: members(2) });
    const sws = [1, 2].map((i) =>
      startOvsSwitch({ dpid: dpid(`198.18.0.${i}`), target: `tcp:127.0.0.1:${h.tcpPort}` }),
    );
    await waitFor(() => reconciledCount(h) === 2, "reconciles", 20_000);
    for (let k = 0; k < 10; k++) {
      const endpoint = k % 2 === 0 ? "203.0.113.2" : "192.0.2.2";
      const own = ownChange(h, "vm2", endpoint);
      const before = await flowModsTotal(h);
      const res = await h.api<RebindBody>("POST", "/v1/clusters/web/members/vm2/rebind", { endpoint });
      expect(res.status).toBe(200);
      // vm1 (the peer) gets its real changes (cleanup's after the answer); vm2's switch only what
      // its own rules change by.
      const { cleanup } = await h.rebindRecord("web", "vm2", res.body.rebindId);
      const peer = [...res.body.phases, cleanup!].flatMap((p) => p.switches.filter((s) => s.vmId === "vm1"));
      const peerMods = peer.reduce((n, s) => n + s.added + s.deleted, 0);
      expect((await flowModsTotal(h)) - before).toBe(peerMods + own);
    }
    const state = h.controller.store.clusterState("web")!;
    for (const [i, sw] of sws.entries()) {
      const rules = compileSwitch(state, `vm${i + 1}`, probes).map(formatRule);
      expect(stableFlows(sw.dumpFlows())).toEqual(referenceFlows(sw, rules));
    }
    expect(h.log.entries.filter((e) => e.level !== "info" && e.level !== "debug")).toEqual([]);
  });
});
