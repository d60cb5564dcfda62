import { afterEach, describe, expect, it } from "vitest";
import type { BatchRebindReport } from "../../../contract/controller-api/index.ts";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import { compileSwitch } from "../../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../../controller/compiler/format.ts";
import type { SwitchBatch } from "../../../controller/compiler/transition-planner.ts";
import { requirePart } from "../../support/parts.ts";
import {
  type FabricErrorBody,
  type HarnessOptions,
  type OfHarness,
  startHarness,
  waitFor,
} from "./support/harness.ts";
import {
  type OvsSwitch,
  referenceFlows,
  stableFlows,
  startOvsSwitch,
  stopAllOvs,
} from "./support/ovs-switch.ts";

// POST /v1/clusters/{id}/rebinds with real Open vSwitch 3.1 (private instances, as in ovs.test.ts):
// two members move at once while a third stays; each mover's new instance is a second OVS with
// its dpid, connecting from 127.0.0.1 like the old one (the newest session takes its batches).

const hasOvs = requirePart("ovs");
const PROBE = 48879;
const probes = { probePort: PROBE };
const dpid = (vint0: string) => datapathIdFor(42, vint0);
const members = [
  { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.1" },
  { vmId: "b", vint0: "198.18.0.2", endpoint: "192.0.2.2" },
  { vmId: "c", vint0: "198.18.0.3", endpoint: "192.0.2.3" },
];
const batch = {
  rebinds: [
    { vmId: "a", endpoint: "203.0.113.1" },
    { vmId: "b", endpoint: "203.0.113.2" },
  ],
};

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

const ovs = (h: OfHarness, vint0: string): OvsSwitch =>
  startOvsSwitch({ dpid: dpid(vint0), target: `tcp:127.0.0.1:${h.tcpPort}` });

const reconciled = (h: OfHarness, sw: OvsSwitch, n = 1) =>
  waitFor(
    () => h.reconciles.filter((r) => r.session.dpid === sw.dpid && !(r.result instanceof Error)).length >= n,
    `reconcile of ${sw.bridge}`,
    15_000,
  );

/** A cluster of three on OVS; a and b have new instances connected and their new endpoints announced. */
async function moving(h: OfHarness) {
  await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members });
  const [aOld, bOld, c] = members.map((m) => ovs(h, m.vint0)) as [OvsSwitch, OvsSwitch, OvsSwitch];
  for (const sw of [aOld, bOld, c]) await reconciled(h, sw);
  // The new instances connect before any announcement: they learn of the other's new endpoint
  // only from the batch (the worst case the batch's prepare phase is there for).
  const aNew = ovs(h, "198.18.0.1");
  const bNew = ovs(h, "198.18.0.2");
  await reconciled(h, aNew, 2);
  await reconciled(h, bNew, 2);
  for (const r of batch.rebinds) {
    const res = await h.api("PUT", `/v1/clusters/web/members/${r.vmId}/next-endpoint`, {
      endpoint: r.endpoint,
    });
    expect(res.status).toBe(200);
  }
  return { aOld, bOld, c, aNew, bNew };
}

const has = (flows: readonly string[], text: string) => flows.some((f) => f.includes(text));

describe.skipIf(!hasOvs)("batch rebind with real Open vSwitch", () => {
  it("moves two members in one round: the new instances accept each other first, every switch sends to both new endpoints in the one switch phase", async () => {
    const h = await harness();
    const { c, aNew, bNew } = await moving(h);
    // What the switches hold after each phase, read from OVS between phases.
    const seen: { a: string[]; b: string[]; c: string[]; batches: readonly SwitchBatch[] }[] = [];
    const apply = h.server.fabric.apply.bind(h.server.fabric);
    h.server.fabric.apply = async (batches: readonly SwitchBatch[]) => {
      const outcomes = await apply(batches);
      seen.push({ a: aNew.dumpFlows(), b: bNew.dumpFlows(), c: c.dumpFlows(), batches });
      return outcomes;
    };
    const res = await h.api<BatchRebindReport>("POST", "/v1/clusters/web/rebinds", batch);
    expect(res.status).toBe(200);
    expect(res.body.phases.map((p) => p.phase)).toEqual(["prepare", "switch"]);
    expect(res.body.phases[1]!.switches.map((s) => [s.vmId, s.status])).toEqual([
      ["a", "confirmed"],
      ["b", "confirmed"],
      ["c", "confirmed"],
    ]);
    expect(res.body.rebinds.map((r) => [r.vmId, r.changed, r.updateMs])).toEqual([
      ["a", true, res.body.updateMs],
      ["b", true, res.body.updateMs],
    ]);
    for (const r of res.body.rebinds) {
      const record = await h.rebindRecord("web", r.vmId, r.rebindId);
      expect(record).toMatchObject({ result: "ok", completion: "done", cleanup: { phase: "cleanup" } });
    }
    expect(seen).toHaveLength(3);
    const [prepare, switched, cleaned] = seen;
    // After prepare: a's new instance accepts b's new endpoint (it connected before b announced
    // it) and still sends to b's old one; c has nothing to do (both endpoints were announced).
    expect(has(prepare!.a, "tun_src=203.0.113.2,in_port=1 actions=output:2")).toBe(true);
    expect(has(prepare!.a, "nw_dst=198.18.0.2 actions=set_field:192.0.2.2->tun_dst")).toBe(true);
    expect(has(prepare!.b, "tun_src=203.0.113.1,in_port=1 actions=output:2")).toBe(true);
    expect(prepare!.batches.map((b) => b.vmId)).toEqual(["a", "b"]);
    // After the one switch phase: everyone sends to both new endpoints, still accepts the old ones.
    for (const [flows, self] of [
      [switched!.a, "1"],
      [switched!.b, "2"],
      [switched!.c, "3"],
    ] as const) {
      for (const n of ["1", "2"].filter((x) => x !== self)) {
        expect(
          has(flows, `nw_dst=198.18.0.${n} actions=set_field:203.0.113.${n}->tun_dst`),
          `${self} -> ${n}`,
        ).toBe(true);
        expect(has(flows, `set_field:192.0.2.${n}->tun_dst`), `${self} -> old ${n}`).toBe(false);
      }
    }
    expect(has(switched!.c, "tun_src=192.0.2.1,in_port=1 actions=output:2")).toBe(true);
    // After cleanup: only the new endpoints, every switch exactly what the stored state compiles to.
    expect(has(cleaned!.c, "tun_src=192.0.2.1")).toBe(false);
    const state = h.controller.store.clusterState("web")!;
    expect(state.members.map((m) => [m.endpoint, m.nextEndpoint])).toEqual([
      ["203.0.113.1", null],
      ["203.0.113.2", null],
      ["192.0.2.3", null],
    ]);
    for (const [sw, vm] of [
      [aNew, "a"],
      [bNew, "b"],
      [c, "c"],
    ] as const) {
      expect(stableFlows(sw.dumpFlows()), vm).toEqual(
        referenceFlows(sw, compileSwitch(state, vm, probes).map(formatRule)),
      );
    }
    expect(h.closes).toEqual([]);
    expect(h.server.probes.active).toBe(0);
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_rebinds_total\{result="ok"\} 2$/m);
    // Sent again (a resumed commit): nothing to do, nothing sent.
    const again = await h.api<BatchRebindReport>("POST", "/v1/clusters/web/rebinds", batch);
    expect(again.body.rebinds.map((r) => r.changed)).toEqual([false, false]);
    expect(seen).toHaveLength(3);
  });

  it("fails the whole batch when a peer's switch does not confirm: no member committed, each record failed", async () => {
    const h = await harness({ openflow: { session: { requestTimeoutMs: 1_000 } } });
    const { c } = await moving(h);
    c.pause();
    let res: { status: number; body: FabricErrorBody };
    try {
      res = await h.api<FabricErrorBody>("POST", "/v1/clusters/web/rebinds", batch);
    } finally {
      c.resume();
    }
    expect(res.status).toBe(502);
    expect(res.body.code).toBe("FABRIC_FAILED");
    const last = res.body.details.phases.at(-1)!;
    expect(last.phase).toBe("switch");
    expect(last.switches).toContainEqual(expect.objectContaining({ vmId: "c", status: "failed" }));
    const state = h.controller.store.clusterState("web")!;
    expect(state.members.map((m) => [m.vmId, m.endpoint, m.nextEndpoint])).toEqual([
      ["a", "192.0.2.1", "203.0.113.1"],
      ["b", "192.0.2.2", "203.0.113.2"],
      ["c", "192.0.2.3", null],
    ]);
    for (const vmId of ["a", "b"]) {
      const records = (
        await h.api<{ rebinds: { result: string }[] }>("GET", `/v1/clusters/web/members/${vmId}/rebinds`)
      ).body.rebinds;
      expect(records.map((r) => r.result)).toEqual(["failed"]);
    }
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_rebinds_total\{result="failed"\} 2$/m);
    expect(metrics).toMatch(/^icsdn_rebinds_total\{result="ok"\} 0$/m);
    // Once c answers again, the same batch converges.
    await waitFor(
      async () => (await h.api<BatchRebindReport>("POST", "/v1/clusters/web/rebinds", batch)).status === 200,
      "the batch again",
      15_000,
    );
    expect(h.controller.store.getMember("web", "a")!.endpoint).toBe("203.0.113.1");
  });
});
