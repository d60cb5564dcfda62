import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterStore } from "../../controller/store/cluster-store.ts";
import { tempDir } from "./support/fixtures.ts";
import { buildTestApi, type TestApi } from "./support/test-api.ts";

// Commits do not fsync on the event loop; ClusterStore.durable() does, off it, and the API answers
// a write only once it resolved (cluster-store.ts, api/app.ts).

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("ClusterStore.durable", () => {
  it("resolves for every caller, concurrent ones included, and what was committed is in the file", async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const path = join(dir.path, "controller.db");
    const store = ClusterStore.open(path);
    cleanups.push(() => store.close());
    store.insertCluster({ id: "web", vni: 42, tunnel: "vxlan", description: "" });
    const first = store.durable();
    store.updateClusterDescription("web", "second");
    await Promise.all([first, store.durable(), store.durable(), store.durable()]);
    const other = new DatabaseSync(path, { readOnly: true });
    expect(other.prepare("SELECT description FROM clusters").get()).toEqual({ description: "second" });
    other.close();
    // A throwaway database has nothing to sync.
    const memory = ClusterStore.open(":memory:");
    await memory.durable();
    memory.close();
  });
});

describe("the API answers a write once it is durable", () => {
  it("holds a write's answer (an error's too) until durable() resolves; reads do not wait", async () => {
    let release = () => {};
    let syncs = 0;
    const api: TestApi = await buildTestApi({
      durable: () => {
        syncs++;
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    cleanups.push(() => api.close());
    let answered = false;
    const created = api.call("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan" }).then((r) => {
      answered = true;
      return r;
    });
    while (syncs === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    expect((await api.call("GET", "/v1/clusters/web")).status).toBe(200);
    release();
    expect((await created).status).toBe(201);
    const refused = api.call("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan" });
    while (syncs === 1) await new Promise((r) => setTimeout(r, 5));
    release();
    expect((await refused).status).toBe(409);
  });
});

describe("a rebind's answer and its cleanup", () => {
  it("syncs the commit at once and starts cleanup only once it is on disk and the answer is out", async () => {
    const api = await buildTestApi();
    cleanups.push(() => api.close());
    const members = [
      { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.10" },
      { vmId: "b", vint0: "198.18.0.2", endpoint: "198.51.100.20" },
    ];
    await api.call("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members });
    api.connectAll("web");
    api.fabric.calls.length = 0;
    // The real store's sync, held back: what runs before it resolves is what the answer waits behind.
    const synced = Promise.withResolvers<void>();
    let syncs = 0;
    let callsAtFirstSync = -1;
    api.store.durable = () => {
      if (syncs++ === 0) callsAtFirstSync = api.fabric.calls.length;
      return synced.promise;
    };
    let answered = false;
    const rebind = api
      .call("POST", "/v1/clusters/web/members/a/rebind", { endpoint: "203.0.113.77" })
      .then((r) => {
        answered = true;
        return r;
      });
    while (syncs === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    // The sync started right after the switch phase (prepare, switch); cleanup waits for it.
    expect(callsAtFirstSync).toBe(2);
    expect(api.fabric.calls).toHaveLength(2);
    expect(answered).toBe(false);
    synced.resolve();
    expect((await rebind).status).toBe(200);
    await api.settled();
    expect(api.fabric.calls).toHaveLength(3);
  });
});
