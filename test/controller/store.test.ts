import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import { ControllerError } from "../../controller/errors.ts";
import type { Cluster } from "../../controller/model/cluster.ts";
import { memberOf } from "../../controller/model/member.ts";
import { ClusterStore } from "../../controller/store/cluster-store.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../controller/store/schema.ts";
import { tempDir } from "./support/fixtures.ts";

const web: Cluster = { id: "web", vni: 42, tunnel: "vxlan", description: "front" };
const a = memberOf(web, { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.10", description: "" });
const b = memberOf(web, { vmId: "b", vint0: "198.18.0.2", endpoint: null, description: "" });

function codeOf(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ControllerError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error("expected a ControllerError");
}

describe("ClusterStore on a real SQLite file", () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let store: ClusterStore;
  const at = new Date("2025-01-02T03:04:05.000Z");

  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, "controller.db");
    store = ClusterStore.open(path, { now: () => at });
  });
  afterEach(() => {
    store.close();
    dir.remove();
  });

  it("creates the schema at the current version, in WAL mode", () => {
    expect(existsSync(path)).toBe(true);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    const raw = new DatabaseSync(path, { readOnly: true });
    const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    expect(tables.map((t) => t.name)).toEqual(["clusters", "linking_reports", "members", "rebinds"]);
    expect(raw.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    raw.close();
  });

  it("syncs its WAL after a commit (durable()); the commit is there for another connection", async () => {
    store.insertCluster(web, [a]);
    await store.durable();
    expect(existsSync(`${path}-wal`)).toBe(true);
    // Every commit was written to the WAL and survives a crash: a second connection sees it.
    const other = ClusterStore.open(path);
    expect(other.listMembers("web")).toEqual([a]);
    other.close();
  });

  it("keeps clusters, members and history across a re-open", () => {
    store.insertCluster(web, [a, b]);
    store.recordLinking({ clusterId: "web", vmId: "a", linkingMs: 63.5 });
    store.recordRebind({
      clusterId: "web",
      vmId: "a",
      oldEndpoint: "192.0.2.10",
      newEndpoint: "203.0.113.5",
      updateMs: 26.5,
      result: "ok",
    });
    store.close();
    store = ClusterStore.open(path);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(store.listClusters()).toEqual([web]);
    expect(store.listMembers("web")).toEqual([a, b]);
    expect(store.getMember("web", "a")?.dpid).toBe(datapathIdFor(42, "198.18.0.1"));
    expect(store.listLinking()).toEqual([
      { id: 1, clusterId: "web", vmId: "a", linkingMs: 63.5, at: "2025-01-02T03:04:05.000Z" },
    ]);
    expect(store.listRebinds({ vmId: "a" })).toMatchObject([
      { oldEndpoint: "192.0.2.10", newEndpoint: "203.0.113.5", result: "ok" },
    ]);
    expect(store.listRebinds({ vmId: "b" })).toEqual([]);
  });

  it("creates a cluster and its members all or nothing", () => {
    const dup = memberOf(web, { vmId: "c", vint0: "198.18.0.1", endpoint: null, description: "" });
    expect(codeOf(() => store.insertCluster(web, [a, b, dup]))).toEqual({
      code: "CONFLICT",
      field: "members[2].vint0",
    });
    expect(store.listClusters()).toEqual([]);
    expect(store.allMembers()).toEqual([]);
  });

  it("refuses duplicate ids, VNIs, vint0s and endpoints, naming the field", () => {
    store.insertCluster(web, [a]);
    expect(codeOf(() => store.insertCluster({ ...web, vni: 43 }))).toEqual({ code: "CONFLICT", field: "id" });
    expect(codeOf(() => store.insertCluster({ ...web, id: "db" }))).toEqual({
      code: "CONFLICT",
      field: "vni",
    });
    expect(codeOf(() => store.insertMember({ ...b, vmId: "a" }))).toEqual({
      code: "CONFLICT",
      field: "vmId",
    });
    expect(codeOf(() => store.insertMember({ ...b, vint0: "198.18.0.1" }))).toEqual({
      code: "CONFLICT",
      field: "vint0",
    });
    expect(codeOf(() => store.insertMember({ ...b, endpoint: "192.0.2.10" }))).toEqual({
      code: "CONFLICT",
      field: "endpoint",
    });
    // Many members may have no endpoint yet.
    store.insertMember(b);
    store.insertMember({ ...b, vmId: "c", vint0: "198.18.0.3" });
    expect(store.listMembers("web").map((m) => m.vmId)).toEqual(["a", "b", "c"]);
  });

  it("refuses a member of a missing cluster, and deleting a cluster that has members", () => {
    expect(codeOf(() => store.insertMember({ ...a, clusterId: "nope" }))).toEqual({
      code: "NOT_FOUND",
      field: "clusterId",
    });
    store.insertCluster(web, [a]);
    expect(codeOf(() => store.deleteCluster("web"))).toEqual({ code: "CONFLICT", field: "members" });
    store.deleteMember("web", "a");
    store.deleteCluster("web");
    expect(store.listClusters()).toEqual([]);
    expect(codeOf(() => store.deleteCluster("web"))).toEqual({ code: "NOT_FOUND", field: "clusterId" });
    expect(codeOf(() => store.deleteMember("web", "a"))).toEqual({ code: "NOT_FOUND", field: "vmId" });
  });

  it("rolls a transaction back whole, nested ones to their savepoint", () => {
    store.insertCluster(web, [a]);
    expect(() =>
      store.transaction(() => {
        store.updateMember({ ...a, endpoint: "203.0.113.5" });
        store.recordRebind({
          clusterId: "web",
          vmId: "a",
          oldEndpoint: null,
          newEndpoint: "x",
          updateMs: 1,
          result: "ok",
        });
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(store.getMember("web", "a")?.endpoint).toBe("192.0.2.10");
    expect(store.listRebinds()).toEqual([]);

    store.transaction(() => {
      store.updateMember({ ...a, description: "outer" });
      expect(() =>
        store.transaction(() => {
          store.updateMember({ ...a, description: "inner" });
          throw new Error("inner");
        }),
      ).toThrow("inner");
    });
    expect(store.getMember("web", "a")?.description).toBe("outer");
    expect(() => store.transaction(() => Promise.resolve(1))).toThrow(/synchronous/);
  });

  it("finds a member from its switch's dpid alone", () => {
    store.insertCluster(web, [a, b]);
    store.insertCluster({ id: "db", vni: 43, tunnel: "gre", description: "" });
    expect(store.memberByDpid(datapathIdFor(42, "198.18.0.2"))?.vmId).toBe("b");
    expect(store.memberByDpid(datapathIdFor(43, "198.18.0.2"))).toBeUndefined();
    expect(store.clusterByVni(43)?.tunnel).toBe("gre");
  });

  it("updates only the mutable fields", () => {
    store.insertCluster(web, [a]);
    store.updateClusterDescription("web", "changed");
    store.updateMember({ ...a, endpoint: null, description: "d" });
    expect(store.getCluster("web")?.description).toBe("changed");
    expect(store.getMember("web", "a")).toEqual({ ...a, endpoint: null, description: "d" });
    expect(codeOf(() => store.updateClusterDescription("nope", ""))).toEqual({
      code: "NOT_FOUND",
      field: "clusterId",
    });
  });

  it("serves cluster states that follow every write, also a rolled-back one", () => {
    store.insertCluster(web, [a]);
    const first = store.clusterState("web");
    expect(store.clusterState("web")).toBe(first);
    store.insertMember(b);
    expect(store.clusterState("web")?.members.map((m) => m.vmId)).toEqual(["a", "b"]);
    store.updateMember({ ...a, endpoint: "203.0.113.5" });
    expect(store.clusterState("web")?.members[0]?.endpoint).toBe("203.0.113.5");
    // The patched entry is what a fresh read of the database gives.
    const reopened = ClusterStore.open(path);
    expect(store.clusterState("web")).toEqual(reopened.clusterState("web"));
    reopened.close();
    expect(() =>
      store.transaction(() => {
        store.updateMember({ ...a, endpoint: "203.0.113.6" });
        throw new Error("abort");
      }),
    ).toThrow("abort");
    expect(store.clusterState("web")?.members[0]?.endpoint).toBe("203.0.113.5");
    store.deleteMember("web", "b");
    store.updateClusterDescription("web", "again");
    expect(store.clusterState("web")).toMatchObject({
      cluster: { description: "again" },
      members: [{ vmId: "a" }],
    });
    store.deleteMember("web", "a");
    store.deleteCluster("web");
    expect(store.clusterState("web")).toBeUndefined();
  });

  it("patches a cached state on member insert and delete, in vm_id order, as a fresh read gives it", () => {
    const c = memberOf(web, { vmId: "c", vint0: "198.18.0.3", endpoint: "192.0.2.30", description: "" });
    store.insertCluster(web, [a, c]);
    const cached = store.clusterState("web")!;
    store.insertMember(b);
    const patched = store.clusterState("web")!;
    expect(patched).not.toBe(cached);
    expect(patched.members.map((m) => m.vmId)).toEqual(["a", "b", "c"]);
    const reopened = ClusterStore.open(path);
    expect(patched).toEqual(reopened.clusterState("web"));
    store.deleteMember("web", "a");
    expect(store.clusterState("web")).toEqual({ ...patched, members: [b, c] });
    expect(reopened.listMembers("web")).toEqual([b, c]);
    reopened.close();
    // A refused insert leaves the cached state as it was.
    expect(codeOf(() => store.insertMember({ ...a, vint0: "198.18.0.2" })).field).toBe("vint0");
    expect(store.clusterState("web")?.members).toEqual([b, c]);
  });

  it("keeps a member's announced next endpoint, and clears it", () => {
    store.insertCluster(web, [a, b]);
    store.updateMember({ ...a, nextEndpoint: "203.0.113.77" });
    store.close();
    store = ClusterStore.open(path, { now: () => at });
    expect(store.getMember("web", "a")).toEqual({ ...a, nextEndpoint: "203.0.113.77" });
    store.updateMember({ ...a, endpoint: "203.0.113.77", nextEndpoint: null });
    expect(store.getMember("web", "a")).toMatchObject({ endpoint: "203.0.113.77", nextEndpoint: null });
  });

  it("migrates a database of schema v1 (before next endpoints), keeping its members", () => {
    store.close();
    const v1 = join(dir.path, "v1.db");
    const raw = new DatabaseSync(v1);
    raw.exec(MIGRATIONS[0]!);
    raw.exec("PRAGMA user_version = 1");
    raw.exec("INSERT INTO clusters (id, vni, tunnel) VALUES ('web', 42, 'vxlan')");
    raw.exec(
      "INSERT INTO members (cluster_id, vm_id, vint0, endpoint) VALUES ('web', 'a', '198.18.0.1', '192.0.2.10')",
    );
    raw.close();
    store = ClusterStore.open(v1, { now: () => at });
    expect(store.getMember("web", "a")).toEqual({ ...a, nextEndpoint: null });
    const check = new DatabaseSync(v1);
    expect(check.prepare("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    check.close();
  });

  it("completes a rebind record once, after its answer; a failed one is done at once", () => {
    const entry = { clusterId: "web", vmId: "a", oldEndpoint: "192.0.2.10", updateMs: 2.5 };
    const ok = store.recordRebind({ ...entry, newEndpoint: "203.0.113.5", result: "ok" });
    const failed = store.recordRebind({ ...entry, newEndpoint: "203.0.113.6", result: "failed" });
    expect(ok).toMatchObject({ completion: "pending", cleanup: null, totalMs: null, downtime: null });
    expect(failed).toMatchObject({ completion: "done", cleanup: null, totalMs: null, downtime: null });
    const cleanup = {
      phase: "cleanup" as const,
      ms: 1.25,
      switches: [
        { dpid: "0000002ac6120002", vmId: "b", status: "confirmed" as const, ms: 1.2, added: 0, deleted: 2 },
      ],
    };
    const downtime = {
      ms: 3.5,
      intervalMs: 1,
      links: [{ from: "b", to: "a", sent: 30, received: 27, longestGapMs: 3.5 }],
    };
    store.completeRebind(ok.id, { cleanup, totalMs: 4.25, downtime });
    // Written once: a second completion (there is none in the service) changes nothing.
    store.completeRebind(ok.id, { cleanup: null, totalMs: 99, downtime: null });
    store.close();
    store = ClusterStore.open(path, { now: () => at });
    expect(store.getRebind(ok.id)).toEqual({
      ...ok,
      completion: "done",
      cleanup,
      totalMs: 4.25,
      downtime,
    });
    expect(store.listRebinds()).toEqual([store.getRebind(ok.id), failed]);
    expect(store.getRebind(99)).toBeUndefined();
  });

  it("ends the rebinds a stopped controller left pending, with nothing recorded", () => {
    const pending = store.recordRebind({
      clusterId: "web",
      vmId: "a",
      oldEndpoint: null,
      newEndpoint: "203.0.113.5",
      updateMs: 1,
      result: "ok",
    });
    expect(store.endInterruptedRebinds()).toBe(1);
    expect(store.getRebind(pending.id)).toEqual({ ...pending, completion: "done" });
    expect(store.endInterruptedRebinds()).toBe(0);
  });

  it("migrates a v2 database's rebinds: done, with no cleanup or downtime recorded", () => {
    store.close();
    const v2 = join(dir.path, "v2.db");
    const raw = new DatabaseSync(v2);
    raw.exec(MIGRATIONS[0]!);
    raw.exec(MIGRATIONS[1]!);
    raw.exec("PRAGMA user_version = 2");
    raw.exec(
      "INSERT INTO rebinds (cluster_id, vm_id, old_endpoint, new_endpoint, update_ms, result, at) " +
        "VALUES ('web', 'a', '192.0.2.10', '203.0.113.5', 3.5, 'ok', '2025-01-02T03:04:05.000Z')",
    );
    raw.close();
    store = ClusterStore.open(v2, { now: () => at });
    expect(store.listRebinds()).toEqual([
      {
        id: 1,
        clusterId: "web",
        vmId: "a",
        oldEndpoint: "192.0.2.10",
        newEndpoint: "203.0.113.5",
        updateMs: 3.5,
        result: "ok",
        at: "2025-01-02T03:04:05.000Z",
        completion: "done",
        cleanup: null,
        totalMs: null,
        downtime: null,
      },
    ]);
  });

  it("refuses a database from a newer controller, and an unopenable path", () => {
    store.close();
    const raw = new DatabaseSync(path);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => ClusterStore.open(path)).toThrow(/newer than this controller/);
    expect(codeOf(() => ClusterStore.open(join(dir.path, "missing", "x.db"))).code).toBe("STORE_FAILED");
    store = ClusterStore.open(":memory:");
    expect(store.isHealthy()).toBe(true);
    store.close();
    expect(store.isHealthy()).toBe(false);
  });
});
