import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import type { TransitionPlan } from "../../controller/compiler/transition-planner.ts";
import type { BatchOutcome, SwitchFabric } from "../../controller/fabric/switch-fabric.ts";
import { runPlan } from "../../controller/service/plan-runner.ts";
import { buildTestApi, snapshotOf, type TestApi } from "./support/test-api.ts";

// Edges of controller/service that mutation testing found untested, mostly make-before-break:
// a failed phase stops the change and commits nothing, whatever the change; a no-op sends
// nothing; writes persist. Mutants left alive on purpose, as equivalent:
// - createCluster's own checks for a taken id (the store refuses it the same way) and `fresh`
//   for a new cluster's members (no peer sends before the cluster exists; same rules either way);
// - a description patch that changes nothing still written (same row);
// - primeNextEndpoint (a fabric's cache warm-up; the test fabric has none) and beginRebind;
// - the service's and runPlan's default clocks, keyed-mutex's key listing (diagnostics only),
//   switch-inventory's per-call state cache (same state read again) and its comparator variants
//   (dpids of members are distinct);
// - the early returns of a repeated announce, a withdraw of nothing, a removal of an unknown
//   member and of a cluster's unknown-ness before deleting: the plan is then empty (no fabric
//   call) and the store refuses the same way;
// - a rebind's update time when nothing was added (a rebind always adds its member's rules).

const VM1 = datapathIdFor(42, "198.18.0.1");
const VM2 = datapathIdFor(42, "198.18.0.2");

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function apiWithCluster(): Promise<TestApi> {
  const a = await buildTestApi();
  const created = await a.call("POST", "/v1/clusters", {
    id: "db",
    vni: 42,
    tunnel: "vxlan",
    description: "first",
    members: [
      { vmId: "vm1", vint0: "198.18.0.1", endpoint: "203.0.113.1", description: "one" },
      { vmId: "vm2", vint0: "198.18.0.2", endpoint: "203.0.113.2" },
    ],
  });
  expect(created.status).toBe(201);
  a.connectAll("db");
  a.fabric.calls.splice(0); // the creation's push, to switches not yet connected
  return a;
}

const failVm2 = (a: TestApi) => {
  a.fabric.failWhen = (batch) =>
    batch.dpid === VM2 ? { type: "BAD_MATCH", code: "BAD_PREREQ", message: "refused" } : undefined;
};

describe("a failed switch stops the change and commits nothing", () => {
  it("announcing a next endpoint", async () => {
    api = await apiWithCluster();
    failVm2(api);
    const before = snapshotOf(api);
    const res = await api.call("PUT", "/v1/clusters/db/members/vm1/next-endpoint", {
      endpoint: "203.0.113.9",
    });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({
      code: "FABRIC_FAILED",
      error: "next endpoint of db/vm1: stopped in phase 'prepare': vm2 failed; nothing was committed",
    });
    const calls = api.fabric.calls.length;
    expect(snapshotOf(api).replace(/"calls":\d+/, "")).toBe(before.replace(/"calls":\d+/, ""));
    expect(calls).toBe(1);
    expect(api.store.getMember("db", "vm1")!.nextEndpoint).toBeNull();
  });

  it("adding a member", async () => {
    api = await apiWithCluster();
    failVm2(api);
    const res = await api.call("POST", "/v1/clusters/db/members", {
      vmId: "vm3",
      vint0: "198.18.0.3",
      endpoint: "203.0.113.3",
    });
    expect(res.status).toBe(502);
    // vm3's switch is not connected yet, which is fine for a new member (reconciled when it connects).
    expect((res.body as { error: string }).error).toBe(
      "change to cluster db: stopped in phase 'prepare': vm2 failed, vm3 not-connected; nothing was committed",
    );
    expect(api.store.getMember("db", "vm3")).toBeUndefined();
  });

  it("rebinding, when the moving member's switch is gone by the time the plan runs", async () => {
    api = await apiWithCluster();
    const fabric = api.fabric;
    const apply = fabric.apply.bind(fabric);
    fabric.apply = async (batches) => {
      fabric.disconnect(VM1);
      return apply(batches);
    };
    const res = await api.call("POST", "/v1/clusters/db/members/vm1/rebind", { endpoint: "203.0.113.7" });
    expect(res.status).toBe(502);
    expect((res.body as { error: string }).error).toBe(
      "rebind of db/vm1 to 203.0.113.7: stopped in phase 'prepare': vm1 not-connected; nothing was committed",
    );
    expect(fabric.calls).toHaveLength(1);
    expect(api.store.getMember("db", "vm1")!.endpoint).toBe("203.0.113.1");
    expect(api.store.listRebinds()).toMatchObject([{ vmId: "vm1", result: "failed" }]);
  });
});

describe("what a change leaves behind", () => {
  it("a description patch is stored, for a cluster and for a member", async () => {
    api = await apiWithCluster();
    expect((await api.call("PATCH", "/v1/clusters/db", { description: "second" })).status).toBe(200);
    expect((await api.call("PATCH", "/v1/clusters/db/members/vm1", { description: "uno" })).status).toBe(200);
    expect(api.store.getCluster("db")!.description).toBe("second");
    expect(api.store.getMember("db", "vm1")!.description).toBe("uno");
    expect(api.fabric.calls).toHaveLength(0);
  });

  it("announcing the same endpoint again, or withdrawing none, sends nothing", async () => {
    api = await apiWithCluster();
    const url = "/v1/clusters/db/members/vm1/next-endpoint";
    expect((await api.call("DELETE", url)).status).toBe(200);
    expect(api.fabric.calls).toHaveLength(0);
    expect((await api.call("PUT", url, { endpoint: "203.0.113.9" })).status).toBe(200);
    const calls = api.fabric.calls.length;
    const again = await api.call("PUT", url, { endpoint: "203.0.113.9" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ nextEndpoint: "203.0.113.9" });
    expect(api.fabric.calls).toHaveLength(calls);
  });

  it("an update time in milliseconds, observed in seconds", async () => {
    api = await apiWithCluster();
    const res = await api.call("POST", "/v1/clusters/db/members/vm1/rebind", { endpoint: "203.0.113.7" });
    expect(res.status).toBe(200);
    const { updateMs, rebindId } = res.body as { updateMs: number; rebindId: number };
    expect(updateMs).toBeGreaterThan(0);
    const settled = await api.call("GET", `/v1/clusters/db/members/vm1/rebinds/${rebindId}?settled=true`);
    const { totalMs } = settled.body as { totalMs: number };
    expect(totalMs).toBeGreaterThanOrEqual(updateMs);
    expect(totalMs).toBeLessThan(10_000);
    const again = await api.call("POST", "/v1/clusters/db/members/vm1/rebind", { endpoint: "203.0.113.7" });
    expect(again.body).toMatchObject({ changed: false });
    expect((again.body as { updateMs: number }).updateMs).toBeGreaterThanOrEqual(0);
    expect((again.body as { updateMs: number }).updateMs).toBeLessThan(10_000);
    const rebinds = await api.call("GET", "/v1/clusters/db/members/vm2/rebinds");
    expect(rebinds.body).toEqual({ rebinds: [] });
    const metrics = (await api.call("GET", "/metrics")).text;
    const sum = Number(/^icsdn_update_seconds_sum (\S+)$/m.exec(metrics)![1]);
    expect(sum).toBeCloseTo(updateMs / 1000, 6);
  });
});

describe("refusals name what is wrong", () => {
  it("an unknown member, on every member route", async () => {
    api = await apiWithCluster();
    const error = { code: "NOT_FOUND", field: "vmId", error: "vmId: cluster 'db' has no member 'zz'" };
    for (const [method, url, body] of [
      ["GET", "/v1/clusters/db/members/zz/rebinds"],
      ["PUT", "/v1/clusters/db/members/zz/next-endpoint", { endpoint: "203.0.113.9" }],
      ["DELETE", "/v1/clusters/db/members/zz/next-endpoint"],
      ["POST", "/v1/clusters/db/members/zz/rebind", { endpoint: "203.0.113.9" }],
      ["DELETE", "/v1/clusters/db/members/zz"],
    ] as const) {
      const res = await api.call(method, url, body);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body, `${method} ${url}`).toEqual(error);
    }
    expect(api.fabric.calls).toHaveLength(0);
  });

  it("an endpoint another member uses or announced, and the member's own as its next", async () => {
    api = await apiWithCluster();
    expect(
      (await api.call("PUT", "/v1/clusters/db/members/vm2/next-endpoint", { endpoint: "203.0.113.8" }))
        .status,
    ).toBe(200);
    const rebind = (endpoint: string) =>
      api!.call("POST", "/v1/clusters/db/members/vm1/rebind", { endpoint });
    expect((await rebind("203.0.113.2")).body).toEqual({
      code: "CONFLICT",
      field: "endpoint",
      error: "endpoint: 203.0.113.2 is already the endpoint of member 'vm2'",
      details: { conflictsWith: "vm2" },
    });
    expect((await rebind("203.0.113.8")).body).toMatchObject({
      error: "endpoint: 203.0.113.8 is already the announced next endpoint of member 'vm2'",
      details: { conflictsWith: "vm2" },
    });
    const own = await api.call("PUT", "/v1/clusters/db/members/vm1/next-endpoint", {
      endpoint: "203.0.113.1",
    });
    expect(own.status).toBe(409);
    expect(own.body).toMatchObject({
      error: "endpoint: 203.0.113.1 is the member's current endpoint; a next endpoint is where it moves to",
    });
  });

  it("a rebind of a member whose switch is not connected", async () => {
    api = await apiWithCluster();
    api.fabric.disconnect(VM1);
    const res = await api.call("POST", "/v1/clusters/db/members/vm1/rebind", { endpoint: "203.0.113.7" });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      code: "NOT_CONNECTED",
      field: "vmId",
      error:
        "vmId: the switch of db/vm1 is not connected; its new instance must be programmed before peers send " +
        "to it (wait for vm-init's linking report)",
    });
  });

  it("a VNI another cluster has", async () => {
    api = await apiWithCluster();
    const res = await api.call("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "gre" });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ field: "vni", details: { conflictsWith: "db" } });
  });
});

describe("the switch list", () => {
  it("is ordered by dpid, not by member name", async () => {
    api = await buildTestApi();
    await api.call("POST", "/v1/clusters", {
      id: "db",
      vni: 42,
      tunnel: "vxlan",
      members: [
        { vmId: "a", vint0: "198.18.0.9", endpoint: "203.0.113.1" },
        { vmId: "b", vint0: "198.18.0.2", endpoint: "203.0.113.2" },
        { vmId: "c", vint0: "198.18.0.5", endpoint: "203.0.113.3" },
      ],
    });
    const { switches } = (await api.call("GET", "/v1/switches")).body as { switches: { vmId: string }[] };
    expect(switches.map((s) => s.vmId)).toEqual(["b", "c", "a"]);
  });
});

describe("runPlan", () => {
  const batch = (dpid: bigint, add: number) => ({
    dpid,
    vmId: `vm${dpid & 0xffn}`,
    fresh: false,
    endpoint: null,
    add: Array.from({ length: add }, () => ({
      tableId: 0,
      priority: 1,
      cookie: 0n,
      match: [],
      instructions: [],
    })),
    delete: [],
  });
  const plan = (...phases: ReturnType<typeof batch>[][]): TransitionPlan => [
    { name: "prepare", batches: phases[0] ?? [] },
    { name: "switch", batches: phases[1] ?? [] },
    { name: "cleanup", batches: phases[2] ?? [] },
  ];
  const fabricAnswering = (answer: (batches: readonly { dpid: bigint }[]) => BatchOutcome[]) => {
    const calls: number[] = [];
    const fabric = {
      apply: async (batches: readonly { dpid: bigint }[]) => {
        calls.push(batches.length);
        return answer(batches);
      },
    } as unknown as SwitchFabric;
    return { fabric, calls };
  };
  let t = 0;
  const clock = () => ++t;

  it("reports an empty phase without asking the fabric", async () => {
    const { fabric, calls } = fabricAnswering((b) =>
      b.map((x) => ({ dpid: x.dpid, status: "confirmed", ms: 1 })),
    );
    const run = await runPlan(fabric, plan([], [batch(1n, 0)]), { clock });
    expect(run.phases[0]).toEqual({ phase: "prepare", ms: 0, switches: [] });
    expect(calls).toEqual([1]);
    expect(run.addedAt).toBeNull();
  });

  it("takes the added time from the last phase where any switch added", async () => {
    const { fabric } = fabricAnswering((b) => b.map((x) => ({ dpid: x.dpid, status: "confirmed", ms: 1 })));
    t = 0;
    const run = await runPlan(fabric, plan([batch(1n, 1)], [batch(1n, 0), batch(2n, 2)], [batch(1n, 0)]), {
      clock,
    });
    expect(run).toMatchObject({ ok: true, addedAt: 4 });
  });

  it("stops on a switch it must have, goes on past one it may miss", async () => {
    const notConnected = (b: readonly { dpid: bigint }[]) =>
      b.map((x) => ({ dpid: x.dpid, status: "not-connected" as const }));
    const must = fabricAnswering(notConnected);
    const stopped = await runPlan(must.fabric, plan([batch(1n, 1)], [batch(1n, 1)]), {
      mustConfirm: new Set([1n]),
      clock,
    });
    expect(stopped.ok).toBe(false);
    expect(must.calls).toEqual([1]);
    const may = fabricAnswering(notConnected);
    const went = await runPlan(may.fabric, plan([batch(1n, 1)], [batch(1n, 1)]), {
      mustConfirm: new Set([2n]),
      clock,
    });
    expect(went.ok).toBe(true);
    expect(may.calls).toEqual([1, 1]);
  });

  it("refuses a fabric that answers too few or out of order", async () => {
    const few = fabricAnswering(() => []);
    await expect(runPlan(few.fabric, plan([batch(1n, 1)]), { clock })).rejects.toThrow(
      "fabric returned 0 outcomes for 1 batches",
    );
    const swapped = fabricAnswering((b) =>
      [...b].reverse().map((x) => ({ dpid: x.dpid, status: "confirmed", ms: 1 })),
    );
    await expect(runPlan(swapped.fabric, plan([batch(1n, 1), batch(2n, 1)]), { clock })).rejects.toThrow(
      "fabric returned outcomes out of order",
    );
  });
});
