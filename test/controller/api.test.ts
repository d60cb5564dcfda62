import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SwitchEntry } from "../../contract/controller-api/types.ts";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import { compileCluster } from "../../controller/compiler/flow-compiler.ts";
import type { RebindIntent, SwitchFabric } from "../../controller/fabric/switch-fabric.ts";
import { MAX_CLUSTER_MEMBERS } from "../../controller/model/requests.ts";
import { asSet } from "./support/switch-model.ts";
import { buildTestApi, type TestApi } from "./support/test-api.ts";

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

const dpidOf = (vint0: string, vni = 42) => datapathIdFor(vni, vint0);

let api: TestApi;
beforeEach(async () => {
  api = await buildTestApi();
});
afterEach(async () => {
  await api.close();
});

/** Every connected fake switch holds exactly what the compiler says for the stored state. */
function expectSwitchesMatchStore(clusterId: string): void {
  for (const sw of compileCluster(api.store.clusterState(clusterId)!)) {
    if (!api.fabric.switchesByDpid.has(sw.dpid)) continue;
    expect(asSet(api.fabric.rulesOf(sw.dpid)), sw.vmId).toEqual(asSet(sw.rules));
  }
}

describe("clusters", () => {
  it("create (with members), read, list, update, delete", async () => {
    const created = await api.call("POST", "/v1/clusters", webBody);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "web", vni: 42, tunnel: "vxlan", description: "" });
    expect(created.body).toHaveProperty("members.0", {
      clusterId: "web",
      vmId: "a",
      vint0: "198.18.0.1",
      endpoint: "192.0.2.10",
      nextEndpoint: null,
      dpid: "0000002ac6120001",
      description: "",
    });

    const read = await api.call("GET", "/v1/clusters/web");
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    await api.call("POST", "/v1/clusters", { id: "db", vni: 43, tunnel: "gre", description: "database" });
    const list = await api.call("GET", "/v1/clusters");
    expect(list.body).toEqual({
      clusters: [
        { id: "db", vni: 43, tunnel: "gre", description: "database" },
        { id: "web", vni: 42, tunnel: "vxlan", description: "" },
      ],
    });

    const patched = await api.call("PATCH", "/v1/clusters/db", { description: "pg", vni: 43 });
    expect(patched).toMatchObject({ status: 200, body: { id: "db", description: "pg", vni: 43 } });

    expect((await api.call("DELETE", "/v1/clusters/db")).status).toBe(204);
    expect((await api.call("GET", "/v1/clusters/db")).status).toBe(404);
  });

  it(`holds at most ${MAX_CLUSTER_MEMBERS} members, created at once or added`, async () => {
    // Distinct addresses for 5,001 members; the longest descriptions (the body is about 1.7 MB).
    const members = Array.from({ length: MAX_CLUSTER_MEMBERS + 1 }, (_, i) => ({
      vmId: `vm${i}`,
      vint0: `10.${i >> 8}.${i & 255}.1`,
      endpoint: `172.${16 + (i >> 8)}.${i & 255}.1`,
      description: "x".repeat(256),
    }));
    const tooMany = await api.call("POST", "/v1/clusters", { id: "big", vni: 7, tunnel: "vxlan", members });
    expect(tooMany).toMatchObject({ status: 400, body: { code: "INVALID_FIELD" } });
    const body = { id: "big", vni: 7, tunnel: "vxlan", members: members.slice(0, MAX_CLUSTER_MEMBERS) };
    expect((await api.call("POST", "/v1/clusters", body)).status).toBe(201);
    const full = await api.call("POST", "/v1/clusters/big/members", members[MAX_CLUSTER_MEMBERS]);
    expect(full).toMatchObject({ status: 409, body: { code: "CONFLICT", field: "members" } });
    expect(api.store.clusterState("big")?.members).toHaveLength(MAX_CLUSTER_MEMBERS);
  });
});

describe("members", () => {
  beforeEach(async () => {
    await api.call("POST", "/v1/clusters", { ...webBody, members: webBody.members.slice(0, 2) });
    api.connectAll("web");
  });

  it("add, read, list, update, remove, and peers' switches follow", async () => {
    const added = await api.call("POST", "/v1/clusters/web/members", webBody.members[2]);
    expect(added).toMatchObject({
      status: 201,
      body: { vmId: "c", dpid: "0000002ac6120003", endpoint: "203.0.113.30" },
    });
    expectSwitchesMatchStore("web");
    expect(api.fabric.rulesOf(dpidOf("198.18.0.1"))).toHaveLength(7);

    expect((await api.call("GET", "/v1/clusters/web/members/c")).body).toEqual(added.body);
    const list = await api.call("GET", "/v1/clusters/web/members");
    expect(list.body).toHaveProperty("members.length", 3);

    const patched = await api.call("PATCH", "/v1/clusters/web/members/c", {
      description: "cache",
      vint0: "198.18.0.3",
      endpoint: "203.0.113.30",
    });
    expect(patched).toMatchObject({ status: 200, body: { description: "cache" } });

    expect((await api.call("DELETE", "/v1/clusters/web/members/c")).status).toBe(204);
    expect((await api.call("GET", "/v1/clusters/web/members/c")).status).toBe(404);
    expectSwitchesMatchStore("web");
    expect(api.fabric.rulesOf(dpidOf("198.18.0.1"))).toHaveLength(4);
  });

  it("adds a member without an endpoint: no peer rule until it is bound", async () => {
    const calls = api.fabric.calls.length;
    const added = await api.call("POST", "/v1/clusters/web/members", { vmId: "d", vint0: "198.18.0.4" });
    expect(added).toMatchObject({ status: 201, body: { endpoint: null } });
    // Only d's own switch (not connected) was in the plan.
    expect(
      api.fabric.calls
        .slice(calls)
        .flat()
        .map((b) => b.vmId),
    ).toEqual(["d"]);
    expectSwitchesMatchStore("web");
  });
});

describe("rebind", () => {
  beforeEach(async () => {
    await api.call("POST", "/v1/clusters", webBody);
    api.connectAll("web");
    api.fabric.calls.length = 0;
  });

  it("moves a member in three confirmed phases, answers after the second, records the third, and leaves every switch compiled", async () => {
    api.fabric.connect(dpidOf("198.18.0.1"), "203.0.113.77"); // the new instance: an empty switch
    // Cleanup (the third apply) waits until the test has seen the answer and the pending record.
    const cleanupHeld = Promise.withResolvers<void>();
    const apply = api.fabric.apply.bind(api.fabric);
    api.fabric.apply = async (batches) => {
      if (api.fabric.calls.length === 2) await cleanupHeld.promise;
      return apply(batches);
    };
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      clusterId: "web",
      vmId: "a",
      oldEndpoint: "192.0.2.10",
      endpoint: "203.0.113.77",
      changed: true,
    });
    const body = res.body as {
      rebindId: number;
      updateMs: number;
      phases: { phase: string; ms: number; switches: { vmId: string; status: string; ms: number }[] }[];
    };
    expect(body.updateMs).toBeGreaterThan(0);
    expect(body.phases.map((p) => [p.phase, p.switches.map((s) => `${s.vmId}:${s.status}`)])).toEqual([
      ["prepare", ["a:confirmed", "b:confirmed", "c:confirmed"]],
      ["switch", ["b:confirmed", "c:confirmed"]],
    ]);
    expect(body.phases[0]!.switches[0]!.ms).toBeGreaterThanOrEqual(0);
    // Answered at update time: the endpoint is committed, the record waits for cleanup.
    expect((await api.call("GET", "/v1/clusters/web/members/a")).body).toMatchObject({
      endpoint: "203.0.113.77",
    });
    const recordPath = `/v1/clusters/web/members/a/rebinds/${body.rebindId}`;
    expect((await api.call("GET", recordPath)).body).toMatchObject({
      id: body.rebindId,
      result: "ok",
      completion: "pending",
      cleanup: null,
      totalMs: null,
      downtime: null,
    });
    expect(api.fabric.calls).toHaveLength(2);
    cleanupHeld.resolve();
    const settled = await api.call("GET", `${recordPath}?settled=true`);
    const record = settled.body as { totalMs: number; cleanup: { ms: number } };
    expect(settled.body).toMatchObject({
      completion: "done",
      updateMs: body.updateMs,
      cleanup: {
        phase: "cleanup",
        switches: [
          { vmId: "b", status: "confirmed" },
          { vmId: "c", status: "confirmed" },
        ],
      },
      // The fake fabric probes nothing.
      downtime: null,
    });
    // Update time ends when the new rules are confirmed: cleanup (deletes only) comes after it.
    expect(record.totalMs).toBeGreaterThanOrEqual(body.updateMs + record.cleanup.ms);
    expect(api.fabric.calls).toHaveLength(3);
    expectSwitchesMatchStore("web");
    const history = await api.call("GET", "/v1/clusters/web/members/a/rebinds");
    expect(history.body).toEqual({ rebinds: [settled.body] });
    expect(history.body).toMatchObject({
      rebinds: [{ oldEndpoint: "192.0.2.10", newEndpoint: "203.0.113.77", result: "ok" }],
    });
  });

  it("probes from the stored state: one watch, finished once, its downtime in the record", async () => {
    api.fabric.connect(dpidOf("198.18.0.1"), "203.0.113.77");
    const before = api.store.clusterState("web")!;
    const intents: RebindIntent[] = [];
    let finished = 0;
    const downtime = { ms: 4, intervalMs: 1, links: [] };
    (api.fabric as SwitchFabric).beginRebind = async (intent) => {
      intents.push(intent);
      return {
        finish: async () => {
          finished++;
          return downtime;
        },
      };
    };
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res.status).toBe(200);
    const { rebindId } = res.body as { rebindId: number };
    const record = await api.call("GET", `/v1/clusters/web/members/a/rebinds/${rebindId}?settled=true`);
    expect(intents).toEqual([{ state: before, vmId: "a", endpoint: "203.0.113.77" }]);
    expect(finished).toBe(1);
    expect(record.body).toMatchObject({ completion: "done", downtime });
  });

  it("finds one rebind's record only under its own member, and refuses a malformed id", async () => {
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    const { rebindId } = res.body as { rebindId: number };
    expect(
      (await api.call("GET", `/v1/clusters/web/members/a/rebinds/${rebindId}?settled=true`)).status,
    ).toBe(200);
    expect(await api.call("GET", `/v1/clusters/web/members/b/rebinds/${rebindId}`)).toMatchObject({
      status: 404,
      body: { code: "NOT_FOUND", field: "rebindId" },
    });
    expect(await api.call("GET", "/v1/clusters/web/members/a/rebinds/999")).toMatchObject({
      status: 404,
      body: { code: "NOT_FOUND", field: "rebindId" },
    });
    for (const bad of ["0", "x", "1.5", "-1"]) {
      expect((await api.call("GET", `/v1/clusters/web/members/a/rebinds/${bad}`)).status, bad).toBe(400);
    }
    expect((await api.call("GET", `/v1/clusters/web/members/a/rebinds/${rebindId}?settled=yes`)).status).toBe(
      400,
    );
  });

  it("after an announced next endpoint, only switches peers' egress: prepare is the member's switch alone", async () => {
    const announced = await api.call("PUT", "/v1/clusters/web/members/a/next-endpoint", {
      endpoint: "203.0.113.77",
    });
    expect(announced).toMatchObject({
      status: 200,
      body: { endpoint: "192.0.2.10", nextEndpoint: "203.0.113.77" },
    });
    // Peers accept the announced endpoint (ingress), then send ARP for a to both endpoints.
    expect(api.fabric.calls.map((c) => c.map((b) => `${b.vmId}+${b.add.length}-${b.delete.length}`))).toEqual(
      [
        ["b+1-0", "c+1-0"],
        ["b+1-0", "c+1-0"],
      ],
    );
    expectSwitchesMatchStore("web");
    api.fabric.calls.length = 0;
    api.fabric.connect(dpidOf("198.18.0.1"), "203.0.113.77");
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res.status).toBe(200);
    const phases = (res.body as { phases: { phase: string; switches: { vmId: string }[] }[] }).phases;
    expect(phases.map((p) => [p.phase, p.switches.map((s) => s.vmId)])).toEqual([
      ["prepare", ["a"]],
      ["switch", ["b", "c"]],
    ]);
    expect(api.store.getMember("web", "a")).toMatchObject({ endpoint: "203.0.113.77", nextEndpoint: null });
    await api.settled();
    expect(api.store.listRebinds()[0]?.cleanup?.switches.map((s) => s.vmId)).toEqual(["b", "c"]);
    expectSwitchesMatchStore("web");
  });

  it("withdraws a next endpoint by DELETE or by announcing another, and refuses one in use", async () => {
    await api.call("PUT", "/v1/clusters/web/members/a/next-endpoint", { endpoint: "203.0.113.77" });
    const again = await api.call("PUT", "/v1/clusters/web/members/a/next-endpoint", {
      endpoint: "203.0.113.77",
    });
    expect(again.status).toBe(200);
    expect(api.fabric.calls).toHaveLength(2);
    const other = await api.call("PUT", "/v1/clusters/web/members/a/next-endpoint", {
      endpoint: "203.0.113.78",
    });
    expect(other.body).toMatchObject({ nextEndpoint: "203.0.113.78" });
    expectSwitchesMatchStore("web");
    for (const [endpoint, conflictsWith] of [
      ["198.51.100.20", "b"],
      ["192.0.2.10", undefined],
    ] as const) {
      const res = await api.call("PUT", "/v1/clusters/web/members/a/next-endpoint", { endpoint });
      expect(res).toMatchObject({ status: 409, body: { code: "CONFLICT", field: "endpoint" } });
      expect((res.body as { details?: { conflictsWith?: string } }).details?.conflictsWith).toBe(
        conflictsWith,
      );
    }
    // Another member may neither rebind to nor announce an endpoint already announced.
    for (const path of ["rebind", "next-endpoint"]) {
      const res = await api.call(path === "rebind" ? "POST" : "PUT", `/v1/clusters/web/members/b/${path}`, {
        endpoint: "203.0.113.78",
      });
      expect(res).toMatchObject({ status: 409, body: { code: "CONFLICT", details: { conflictsWith: "a" } } });
    }
    const bad = await api.call("PUT", "/v1/clusters/web/members/a/next-endpoint", { endpoint: "300.1.1.1" });
    expect(bad).toMatchObject({ status: 400, body: { field: "endpoint" } });
    expect(api.store.getMember("web", "a")?.nextEndpoint).toBe("203.0.113.78");
    const withdrawn = await api.call("DELETE", "/v1/clusters/web/members/a/next-endpoint");
    expect(withdrawn).toMatchObject({ status: 200, body: { nextEndpoint: null } });
    expect(api.store.getMember("web", "a")?.nextEndpoint).toBeNull();
    expectSwitchesMatchStore("web");
  });

  it("is a no-op when repeated with the same endpoint", async () => {
    await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    await api.settled();
    const calls = api.fabric.calls.length;
    const again = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(again).toMatchObject({ status: 200, body: { changed: false, phases: [] } });
    expect(api.fabric.calls).toHaveLength(calls);
    expect(api.store.listRebinds()).toHaveLength(1);
  });

  it("refuses when the moving member's switch is not connected, touching nothing", async () => {
    api.fabric.disconnect(dpidOf("198.18.0.1"));
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res).toMatchObject({ status: 409, body: { code: "NOT_CONNECTED", field: "vmId" } });
    expect(api.fabric.calls).toHaveLength(0);
    expect(api.store.getMember("web", "a")?.endpoint).toBe("192.0.2.10");
  });

  it("goes ahead when a peer is not connected: it is reconciled when it connects", async () => {
    api.fabric.disconnect(dpidOf("198.18.0.3"));
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('"vmId":"c","status":"not-connected"');
    await api.settled();
    expectSwitchesMatchStore("web");
  });

  it("records a cleanup that fails after the answer; the member stays rebound", async () => {
    api.fabric.failWhen = (batch, call) =>
      call === 2 && batch.vmId === "c" ? { type: "BAD_MATCH", code: "BAD_PREREQ", message: "no" } : undefined;
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res.status).toBe(200);
    const { rebindId } = res.body as { rebindId: number };
    const record = await api.call("GET", `/v1/clusters/web/members/a/rebinds/${rebindId}?settled=true`);
    expect(record.body).toMatchObject({
      result: "ok",
      completion: "done",
      cleanup: {
        phase: "cleanup",
        switches: [
          { vmId: "b", status: "confirmed" },
          { vmId: "c", status: "failed", error: { type: "BAD_MATCH", code: "BAD_PREREQ" } },
        ],
      },
    });
    // Every switch sends to the new endpoint: that is committed. c still accepts the old one.
    expect(api.store.getMember("web", "a")?.endpoint).toBe("203.0.113.77");
    const c = api.fabric.rulesOf(dpidOf("198.18.0.3"));
    expect(
      c.some((r) =>
        JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes("192.0.2.10"),
      ),
    ).toBe(true);
  });

  it("stops before the next phase when a switch fails, and commits nothing", async () => {
    api.fabric.failWhen = (batch, call) =>
      call === 1 && batch.vmId === "c" ? { type: "BAD_MATCH", code: "BAD_PREREQ", message: "no" } : undefined;
    const res = await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" });
    expect(res).toMatchObject({ status: 502, body: { code: "FABRIC_FAILED" } });
    const phases = (res.body as { details: { phases: { phase: string; switches: { status: string }[] }[] } })
      .details.phases;
    expect(phases.map((p) => p.phase)).toEqual(["prepare", "switch"]);
    expect(phases[1]!.switches.map((s) => s.status)).toEqual(["confirmed", "failed"]);
    expect(api.fabric.calls).toHaveLength(2);
    expect(api.store.getMember("web", "a")?.endpoint).toBe("192.0.2.10");
    expect(api.store.listRebinds()).toMatchObject([{ result: "failed", newEndpoint: "203.0.113.77" }]);
    // A retry redoes the whole plan and converges.
    api.fabric.failWhen = undefined;
    expect(
      (await api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" })).status,
    ).toBe(200);
    await api.settled();
    expectSwitchesMatchStore("web");
  });

  it("serializes concurrent rebinds within a cluster, runs clusters in parallel", async () => {
    await api.call("POST", "/v1/clusters", {
      id: "db",
      vni: 43,
      tunnel: "gre",
      members: [
        { vmId: "p", vint0: "198.18.0.1", endpoint: "192.0.2.50" },
        { vmId: "q", vint0: "198.18.0.2", endpoint: "192.0.2.51" },
      ],
    });
    api.connectAll("db");
    api.fabric.delayMs = 15;
    const same = await Promise.all([
      api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" }),
      api.call("POST", "/v1/clusters/web/members/b/rebind", { endpoint: "203.0.113.78" }),
      api.call("POST", "/v1/clusters/web/members/c/rebind", { endpoint: "192.0.2.10" }),
    ]);
    expect(same.map((r) => r.status)).toEqual([200, 200, 200]);
    await api.settled();
    // Cleanup runs after the answer but still under the cluster's lock.
    expect(api.fabric.maxInFlight).toBe(1);
    expectSwitchesMatchStore("web");

    const both = await Promise.all([
      api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.90" }),
      api.call("POST", "/v1/clusters/db/members/p/rebind", { endpoint: "192.0.2.60" }),
    ]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    await api.settled();
    expect(api.fabric.maxInFlight).toBe(2);
    expectSwitchesMatchStore("web");
    expectSwitchesMatchStore("db");
  });

  it("applies one of two identical concurrent rebinds; the other is a no-op", async () => {
    api.fabric.delayMs = 5;
    const results = await Promise.all([
      api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" }),
      api.call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" }),
    ]);
    expect(results.map((r) => (r.body as { changed: boolean }).changed).sort()).toEqual([false, true]);
    expect(api.store.listRebinds()).toHaveLength(1);
  });
});

describe("switches", () => {
  it("lists every member's switch, connected or not, and unknown connected switches", async () => {
    await api.call("POST", "/v1/clusters", webBody);
    api.connectAll("web");
    api.fabric.disconnect(dpidOf("198.18.0.2"));
    api.fabric.connect(0xdeadn, "192.0.2.200");
    const res = await api.call("GET", "/v1/switches");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      switches: [
        {
          dpid: "000000000000dead",
          clusterId: null,
          vmId: null,
          connected: true,
          endpoint: null,
          remoteAddress: "192.0.2.200",
          connectedForMs: expect.any(Number),
          ruleCount: 0,
          desiredRuleCount: null,
        },
        {
          dpid: "0000002ac6120001",
          clusterId: "web",
          vmId: "a",
          connected: true,
          endpoint: "192.0.2.10",
          remoteAddress: "192.0.2.10",
          connectedForMs: expect.any(Number),
          ruleCount: 7,
          desiredRuleCount: 7,
        },
        {
          dpid: "0000002ac6120002",
          clusterId: "web",
          vmId: "b",
          connected: false,
          endpoint: "198.51.100.20",
          remoteAddress: null,
          connectedForMs: null,
          ruleCount: null,
          desiredRuleCount: 7,
        },
        {
          dpid: "0000002ac6120003",
          clusterId: "web",
          vmId: "c",
          connected: true,
          endpoint: "203.0.113.30",
          remoteAddress: "203.0.113.30",
          connectedForMs: expect.any(Number),
          ruleCount: 7,
          desiredRuleCount: 7,
        },
      ],
    });
  });

  it("tells a session's age, so a new session from the same address is told from the old", async () => {
    await api.call("POST", "/v1/clusters", webBody);
    api.connectAll("web");
    const age = async () =>
      ((await api.call("GET", "/v1/switches?clusterId=web&vmId=a")).body as { switches: SwitchEntry[] })
        .switches[0]!.connectedForMs;
    await new Promise((r) => setTimeout(r, 50));
    expect(await age()).toBeGreaterThanOrEqual(45);
    api.fabric.disconnect(dpidOf("198.18.0.1"));
    api.fabric.connect(dpidOf("198.18.0.1"), "192.0.2.10");
    expect(await age()).toBeLessThan(45);
  });

  it("lists only one cluster's or one member's switches when asked (no unknown switches then)", async () => {
    await api.call("POST", "/v1/clusters", webBody);
    api.connectAll("web");
    api.fabric.connect(0xdeadn, "192.0.2.200");
    const vmIds = async (query: string) =>
      (
        (await api.call("GET", `/v1/switches${query}`)).body as { switches: { vmId: string | null }[] }
      ).switches.map((s) => s.vmId);
    expect(await vmIds("")).toEqual([null, "a", "b", "c"]);
    expect(await vmIds("?clusterId=web")).toEqual(["a", "b", "c"]);
    expect(await vmIds("?clusterId=web&vmId=b")).toEqual(["b"]);
    expect(await vmIds("?vmId=c")).toEqual(["c"]);
    expect(await vmIds("?clusterId=nope")).toEqual([]);
    expect((await api.call("GET", "/v1/switches?stray=1")).status).toBe(400);
  });
});

describe("linking reports", () => {
  it("stores vm-init's report and lists it", async () => {
    await api.call("POST", "/v1/clusters", webBody);
    const res = await api.call("POST", "/v1/linking", { vmId: "a", clusterId: "web", linkingMs: 63 });
    expect(res).toMatchObject({ status: 201, body: { id: 1, clusterId: "web", vmId: "a", linkingMs: 63 } });
    await api.call("POST", "/v1/linking", { vmId: "b", clusterId: "web", linkingMs: 70.5 });
    expect((await api.call("GET", "/v1/linking?vmId=b")).body).toMatchObject({
      reports: [{ vmId: "b", linkingMs: 70.5 }],
    });
    expect((await api.call("GET", "/v1/linking")).body).toHaveProperty("reports.length", 2);
  });
});

describe("health and OpenAPI", () => {
  it("answers /healthz and /readyz, and /readyz fails when the store is gone", async () => {
    expect(await api.call("GET", "/healthz", undefined, { token: null })).toMatchObject({
      status: 200,
      body: { status: "ok" },
    });
    expect(await api.call("GET", "/readyz", undefined, { token: null })).toMatchObject({
      status: 200,
      body: { status: "ready", checks: { store: true } },
    });
    api.store.close();
    expect(await api.call("GET", "/readyz", undefined, { token: null })).toMatchObject({
      status: 503,
      body: { checks: { store: false } },
    });
  });

  it("serves an OpenAPI 3.1 document with every route, its schemas and bearer auth", async () => {
    const res = await api.call("GET", "/openapi.json", undefined, { token: null });
    expect(res.status).toBe(200);
    const doc = res.body as {
      openapi: string;
      security: unknown;
      paths: Record<string, Record<string, { requestBody?: unknown; security?: unknown[] }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "POST /v1/clusters",
        "GET /v1/clusters",
        "GET /v1/clusters/{clusterId}",
        "PATCH /v1/clusters/{clusterId}",
        "DELETE /v1/clusters/{clusterId}",
        "POST /v1/clusters/{clusterId}/members",
        "GET /v1/clusters/{clusterId}/members",
        "GET /v1/clusters/{clusterId}/members/{vmId}",
        "PATCH /v1/clusters/{clusterId}/members/{vmId}",
        "DELETE /v1/clusters/{clusterId}/members/{vmId}",
        "POST /v1/clusters/{clusterId}/members/{vmId}/rebind",
        "POST /v1/clusters/{clusterId}/rebinds",
        "PUT /v1/clusters/{clusterId}/members/{vmId}/next-endpoint",
        "DELETE /v1/clusters/{clusterId}/members/{vmId}/next-endpoint",
        "GET /v1/clusters/{clusterId}/members/{vmId}/rebinds",
        "GET /v1/clusters/{clusterId}/members/{vmId}/rebinds/{rebindId}",
        "GET /v1/switches",
        "POST /v1/linking",
        "GET /v1/linking",
      ].sort(),
    );
    expect(doc.paths["/v1/clusters/{clusterId}/members/{vmId}/rebind"]?.post?.requestBody).toBeDefined();
    expect(doc.paths["/healthz"]?.get?.security).toEqual([]);
  });
});
