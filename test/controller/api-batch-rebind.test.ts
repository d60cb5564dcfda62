import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_BATCH_REBINDS } from "../../contract/controller-api/index.ts";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import { compileCluster } from "../../controller/compiler/flow-compiler.ts";
import { asSet } from "./support/switch-model.ts";
import { buildTestApi, type TestApi } from "./support/test-api.ts";

// POST /v1/clusters/{id}/rebinds against the fake fabric: its edge, its one round and its all or
// nothing (test/controller/openflow/ovs-batch-rebind.test.ts drives real OVS).

const webBody = {
  id: "web",
  vni: 42,
  tunnel: "vxlan",
  members: [
    { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.10" },
    { vmId: "b", vint0: "198.18.0.2", endpoint: "198.51.100.20" },
    { vmId: "c", vint0: "198.18.0.3", endpoint: "203.0.113.30" },
  ],
};
const dpidOf = (vint0: string) => datapathIdFor(42, vint0);
const moveAB = {
  rebinds: [
    { vmId: "a", endpoint: "203.0.113.77" },
    { vmId: "b", endpoint: "203.0.113.78" },
  ],
};

let api: TestApi;
beforeEach(async () => {
  api = await buildTestApi();
  await api.call("POST", "/v1/clusters", webBody);
  api.connectAll("web");
  api.fabric.calls.length = 0;
});
afterEach(async () => {
  await api.close();
});

function expectSwitchesMatchStore(): void {
  for (const sw of compileCluster(api.store.clusterState("web")!)) {
    if (!api.fabric.switchesByDpid.has(sw.dpid)) continue;
    expect(asSet(api.fabric.rulesOf(sw.dpid)), sw.vmId).toEqual(asSet(sw.rules));
  }
}

const counted = async () =>
  Object.fromEntries(
    (await api.metrics.registry.getSingleMetric("icsdn_rebinds_total")!.get()).values.map((v) => [
      v.labels.result,
      v.value,
    ]),
  );

describe("POST /v1/clusters/{id}/rebinds", () => {
  it("moves every listed member in one round (prepare, one switch phase, cleanup), one record each, counted once each", async () => {
    const res = await api.call("POST", "/v1/clusters/web/rebinds", moveAB);
    expect(res.status).toBe(200);
    const body = res.body as {
      updateMs: number;
      phases: { phase: string }[];
      rebinds: { vmId: string; changed: boolean; rebindId: number; updateMs: number; oldEndpoint: string }[];
    };
    expect(body.phases.map((p) => p.phase)).toEqual(["prepare", "switch"]);
    expect(body.rebinds).toMatchObject([
      {
        vmId: "a",
        oldEndpoint: "192.0.2.10",
        endpoint: "203.0.113.77",
        changed: true,
        updateMs: body.updateMs,
      },
      {
        vmId: "b",
        oldEndpoint: "198.51.100.20",
        endpoint: "203.0.113.78",
        changed: true,
        updateMs: body.updateMs,
      },
    ]);
    expect(body.rebinds[0]!.rebindId).not.toBe(body.rebinds[1]!.rebindId);
    await api.settled();
    // One apply per phase for the whole batch: each switch one batch per phase.
    expect(api.fabric.calls).toHaveLength(3);
    for (const call of api.fabric.calls) {
      expect(new Set(call.map((b) => b.dpid)).size).toBe(call.length);
    }
    // The switch phase turns every switch, the moved members' own included.
    expect(api.fabric.calls[1]!.map((b) => b.vmId).sort()).toEqual(["a", "b", "c"]);
    expect(api.store.getMember("web", "a")?.endpoint).toBe("203.0.113.77");
    expect(api.store.getMember("web", "b")?.endpoint).toBe("203.0.113.78");
    for (const [vmId, r] of [
      ["a", body.rebinds[0]!],
      ["b", body.rebinds[1]!],
    ] as const) {
      const record = await api.call(
        "GET",
        `/v1/clusters/web/members/${vmId}/rebinds/${r.rebindId}?settled=true`,
      );
      expect(record.body).toMatchObject({
        result: "ok",
        completion: "done",
        cleanup: { phase: "cleanup" },
        updateMs: body.updateMs,
      });
    }
    expectSwitchesMatchStore();
    expect(await counted()).toMatchObject({ ok: 2, noop: 0, refused: 0, failed: 0 });
  });

  it("sent again (a resumed commit), answers changed false for members already there and moves the rest", async () => {
    await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    await api.settled();
    api.fabric.calls.length = 0;
    const res = await api.call("POST", "/v1/clusters/web/rebinds", moveAB);
    expect(res.status).toBe(200);
    expect((res.body as { rebinds: unknown[] }).rebinds).toMatchObject([
      { vmId: "a", changed: false, rebindId: null, oldEndpoint: "203.0.113.77" },
      { vmId: "b", changed: true },
    ]);
    await api.settled();
    expect(api.store.listRebinds({ clusterId: "web", vmId: "a" })).toHaveLength(1);
    const again = await api.call("POST", "/v1/clusters/web/rebinds", moveAB);
    expect(again).toMatchObject({ status: 200, body: { phases: [] } });
    expect((again.body as { rebinds: { changed: boolean }[] }).rebinds.map((r) => r.changed)).toEqual([
      false,
      false,
    ]);
    expect(api.fabric.calls).toHaveLength(3);
    expectSwitchesMatchStore();
    expect(await counted()).toMatchObject({ ok: 2, noop: 3 });
  });

  it("refuses at the edge, touching nothing: empty, too many, a member or an endpoint twice, a bad address", async () => {
    const many = Array.from({ length: MAX_BATCH_REBINDS + 1 }, (_, i) => ({
      vmId: `vm${i}`,
      endpoint: `10.${i >> 8}.${i & 255}.1`,
    }));
    for (const [body, field] of [
      [{ rebinds: [] }, undefined],
      [{ rebinds: many }, undefined],
      [{ rebinds: [moveAB.rebinds[0], { vmId: "a", endpoint: "203.0.113.79" }] }, "rebinds[1].vmId"],
      [{ rebinds: [moveAB.rebinds[0], { vmId: "b", endpoint: "203.0.113.77" }] }, "rebinds[1].endpoint"],
      [{ rebinds: [{ vmId: "a", endpoint: "127.0.0.1" }] }, "rebinds[0].endpoint"],
      [{ rebinds: [{ vmId: "a" }] }, undefined],
    ] as const) {
      const res = await api.call("POST", "/v1/clusters/web/rebinds", body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      if (field) expect(res.body).toMatchObject({ field });
    }
    expect(api.fabric.calls).toHaveLength(0);
    expect(api.store.listRebinds()).toHaveLength(0);
    expect((await counted()).refused).toBe(1 + MAX_BATCH_REBINDS + 1 + 2 + 2 + 1 + 1);
  });

  it("refuses the whole batch for one member: unknown, not connected, or an endpoint another member holds", async () => {
    const cases = [
      [{ vmId: "zz", endpoint: "203.0.113.79" }, 404, "rebinds[1].vmId"],
      [{ vmId: "b", endpoint: "203.0.113.30" }, 409, "rebinds[1].endpoint"],
    ] as const;
    for (const [entry, status, field] of cases) {
      const res = await api.call("POST", "/v1/clusters/web/rebinds", { rebinds: [moveAB.rebinds[0], entry] });
      expect(res).toMatchObject({ status, body: { field } });
    }
    api.fabric.disconnect(dpidOf("198.18.0.2"));
    const res = await api.call("POST", "/v1/clusters/web/rebinds", moveAB);
    expect(res).toMatchObject({ status: 409, body: { code: "NOT_CONNECTED", field: "rebinds[1].vmId" } });
    expect(api.fabric.calls).toHaveLength(0);
    expect(api.store.getMember("web", "a")?.endpoint).toBe("192.0.2.10");
    expect(await api.call("POST", "/v1/clusters/nope/rebinds", moveAB)).toMatchObject({ status: 404 });
  });

  it("fails the whole batch when a switch fails the switch phase: no member committed, a failed record each, counted failed", async () => {
    api.fabric.failWhen = (batch, call) =>
      call === 1 && batch.vmId === "c" ? { type: "BAD_MATCH", code: "BAD_PREREQ", message: "no" } : undefined;
    const res = await api.call("POST", "/v1/clusters/web/rebinds", moveAB);
    expect(res).toMatchObject({ status: 502, body: { code: "FABRIC_FAILED" } });
    expect(api.store.getMember("web", "a")?.endpoint).toBe("192.0.2.10");
    expect(api.store.getMember("web", "b")?.endpoint).toBe("198.51.100.20");
    expect(api.store.listRebinds()).toMatchObject([
      { vmId: "a", result: "failed" },
      { vmId: "b", result: "failed" },
    ]);
    expect(api.fabric.calls).toHaveLength(2);
    expect(await counted()).toMatchObject({ failed: 2, ok: 0 });
    // Sent again, it converges.
    api.fabric.failWhen = undefined;
    expect((await api.call("POST", "/v1/clusters/web/rebinds", moveAB)).status).toBe(200);
    await api.settled();
    expectSwitchesMatchStore();
  });
});
