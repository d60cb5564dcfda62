import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ControllerError } from "../../controller/errors.ts";
import type { Cluster } from "../../controller/model/cluster.ts";
import { memberOf } from "../../controller/model/member.ts";
import { ClusterStore } from "../../controller/store/cluster-store.ts";
import { num, text, textOrNull } from "../../controller/store/rows.ts";
import { tempDir } from "./support/fixtures.ts";

// Edges of the store that mutation testing found untested: the state cache after every kind of
// write, the exact errors (code, field and message) a constraint or a missing row gives, and rows
// of the wrong type. Mutants left alive in controller/store on purpose, as equivalent:
// - `PRAGMA foreign_keys = ON` removed: node:sqlite enables foreign keys by default.
// - WAL also for ":memory:" (`if (true)`, or comparing with ""): SQLite ignores it there.
// - isHealthy's `isOpen &&` dropped: prepare() on a closed database throws, and the catch says false.
// - BEGIN vs SAVEPOINT at depth 0, RELEASE of a nested savepoint left out: SQLite opens a
//   transaction for a top-level SAVEPOINT, and the outer COMMIT ends every open savepoint.
// - insertCluster's cache drop: a cluster that does not exist yet has no cached state.
// - the statement cache bypassed: the same SQL prepared again gives the same results.
// - num()'s bigint branch: node:sqlite gives bigints only with readBigInts, which we never set
//   (tested directly below all the same).
// - the field prefix of writes that cannot violate a UNIQUE or foreign key (UPDATE clusters,
//   DELETE members, history INSERTs), and the `$` of the UNIQUE regex (messages are one line).
// - db.close() after a failed migration: only a leaked handle, nothing a caller can see.

const web: Cluster = { id: "web", vni: 42, tunnel: "vxlan", description: "front" };
const a = memberOf(web, { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.10", description: "" });
const b = memberOf(web, { vmId: "b", vint0: "198.18.0.2", endpoint: "192.0.2.20", description: "" });

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}

function controllerErrorOf(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  const err = errorOf(fn);
  if (!(err instanceof ControllerError)) throw err;
  return { code: err.code, field: err.field, message: err.message };
}

describe("ClusterStore edges", () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let store: ClusterStore;
  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, "controller.db");
    store = ClusterStore.open(path);
  });
  afterEach(() => {
    store.close();
    dir.remove();
  });

  it("serves a state that follows a description change made after it was read", () => {
    store.insertCluster(web, [a]);
    expect(store.clusterState("web")!.cluster.description).toBe("front");
    store.updateClusterDescription("web", "back");
    expect(store.clusterState("web")!.cluster.description).toBe("back");
  });

  it("names what is missing: cluster and member, by field and in the message", () => {
    expect(controllerErrorOf(() => store.updateClusterDescription("nope", "x"))).toEqual({
      code: "NOT_FOUND",
      field: "clusterId",
      message: "clusterId: no cluster 'nope'",
    });
    store.insertCluster(web, [a]);
    expect(controllerErrorOf(() => store.updateMember({ ...b }))).toEqual({
      code: "NOT_FOUND",
      field: "vmId",
      message: "vmId: cluster 'web' has no member 'b'",
    });
    expect(store.getMember("web", "b")).toBeUndefined();
    // A member of a cluster that does not exist: the foreign key, said as a missing cluster.
    expect(controllerErrorOf(() => store.insertMember({ ...b, clusterId: "gone" }))).toEqual({
      code: "NOT_FOUND",
      field: "clusterId",
      message: "clusterId: no cluster 'gone'",
    });
  });

  it("names the taken value and its field, with the request's prefix", () => {
    store.insertCluster(web, [a]);
    expect(controllerErrorOf(() => store.insertMember({ ...b, vint0: a.vint0 }))).toEqual({
      code: "CONFLICT",
      field: "vint0",
      message: "vint0: 198.18.0.1 is already taken",
    });
    const other: Cluster = { id: "db", vni: 43, tunnel: "gre", description: "" };
    const x = memberOf(other, { vmId: "x", vint0: "198.18.1.1", endpoint: null, description: "" });
    const y = memberOf(other, { vmId: "y", vint0: "198.18.1.1", endpoint: null, description: "" });
    expect(controllerErrorOf(() => store.insertCluster(other, [x, y]))).toEqual({
      code: "CONFLICT",
      field: "members[1].vint0",
      message: "members[1].vint0: 198.18.1.1 is already taken",
    });
    expect(store.getCluster("db")).toBeUndefined();
    // An update that takes another member's endpoint.
    store.insertMember(b);
    expect(controllerErrorOf(() => store.updateMember({ ...b, endpoint: a.endpoint }))).toEqual({
      code: "CONFLICT",
      field: "endpoint",
      message: "endpoint: 192.0.2.10 is already taken",
    });
    expect(store.getMember("web", "b")!.endpoint).toBe("192.0.2.20");
  });

  it("gives any other constraint failure as an invalid field with SQLite's words", () => {
    const err = controllerErrorOf(() => store.insertCluster({ ...web, vni: 0 }));
    expect(err.code).toBe("INVALID_FIELD");
    expect(err.message).toMatch(/CHECK constraint failed/);
    expect(store.listClusters()).toEqual([]);
  });

  it("lets an error that is no constraint failure through as it is", () => {
    const raw = new DatabaseSync(path);
    raw.exec("DROP TABLE linking_reports");
    raw.close();
    const err = errorOf(() => store.recordLinking({ clusterId: "web", vmId: "a", linkingMs: 1 }));
    expect(err).not.toBeInstanceOf(ControllerError);
    expect((err as Error).message).toMatch(/no such table: linking_reports/);
  });

  it("says which database it cannot open, and why", () => {
    const missing = join(dir.path, "missing", "x.db");
    const err = errorOf(() => ClusterStore.open(missing));
    expect(err).toBeInstanceOf(ControllerError);
    expect((err as ControllerError).code).toBe("STORE_FAILED");
    expect((err as ControllerError).message).toBe(
      `cannot open database ${missing}: unable to open database file`,
    );
    expect((err as Error).cause).toBeInstanceOf(Error);
  });
});

describe("rows of the wrong type", () => {
  it("refuses them as a corrupt store, naming the column and what it holds", () => {
    expect(controllerErrorOf(() => text({ id: 5 }, "id"))).toEqual({
      code: "STORE_FAILED",
      field: undefined,
      message: "column id holds number 5",
    });
    expect(controllerErrorOf(() => text({ id: null }, "id")).message).toBe("column id holds object null");
    expect(controllerErrorOf(() => textOrNull({ endpoint: 7 }, "endpoint")).message).toBe(
      "column endpoint holds number 7",
    );
    expect(controllerErrorOf(() => num({ vni: "42" }, "vni")).message).toBe("column vni holds string 42");
    expect(controllerErrorOf(() => num({}, "vni")).message).toBe("column vni holds undefined undefined");
  });

  it("reads the right types as they are", () => {
    expect(text({ id: "web" }, "id")).toBe("web");
    expect(textOrNull({ endpoint: null }, "endpoint")).toBeNull();
    expect(textOrNull({ endpoint: "192.0.2.1" }, "endpoint")).toBe("192.0.2.1");
    expect(num({ vni: 42 }, "vni")).toBe(42);
    expect(num({ vni: 42n }, "vni")).toBe(42);
  });
});
