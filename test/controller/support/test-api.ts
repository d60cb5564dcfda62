import type { FastifyInstance, FastifyServerOptions } from "fastify";
import type { AuthConfig } from "../../../contract/http/auth.ts";
import { buildApi } from "../../../controller/api/app.ts";
import { compileCluster } from "../../../controller/compiler/flow-compiler.ts";
import { RulePlanner } from "../../../controller/compiler/rule-planner.ts";
import { ControllerMetrics } from "../../../controller/metrics/controller-metrics.ts";
import { ClusterLocks } from "../../../controller/service/cluster-locks.ts";
import { ClusterService } from "../../../controller/service/cluster-service.ts";
import {
  countConnectedSwitches,
  countMissingSwitches,
} from "../../../controller/service/switch-inventory.ts";
import { ClusterStore } from "../../../controller/store/cluster-store.ts";
import { FakeFabric } from "./fake-fabric.ts";

export const TOKEN = "test-token-0123456789abcdef";

export interface TestApi {
  app: FastifyInstance;
  store: ClusterStore;
  fabric: FakeFabric;
  metrics: ControllerMetrics;
  /** One request through fastify's inject; `token` defaults to the right one. */
  call(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    body?: unknown,
    options?: { token?: string | null; rawBody?: string; contentType?: string },
  ): Promise<{ status: number; body: unknown; text: string; headers: Record<string, unknown> }>;
  /** Resolves once every answered rebind's cleanup and history record are complete. */
  settled(): Promise<void>;
  /** Connects every member's switch in the fake, holding what the compiler says (as if reconciled). */
  connectAll(clusterId: string): void;
  close(): Promise<void>;
}

export async function buildTestApi(
  options: {
    auth?: AuthConfig;
    dbPath?: string;
    logger?: FastifyServerOptions["logger"];
    /** Instead of the store's own (a test that holds writes back). */
    durable?: () => Promise<void>;
  } = {},
): Promise<TestApi> {
  const store = ClusterStore.open(options.dbPath ?? ":memory:");
  const fabric = new FakeFabric();
  const metrics = new ControllerMetrics({
    connectedSwitches: () => countConnectedSwitches(fabric),
    missingSwitches: () => countMissingSwitches(store, fabric),
  });
  const clock = () => performance.now();
  const locks = new ClusterLocks();
  const planner = new RulePlanner({});
  const service = new ClusterService({ store, fabric, metrics, clock, locks, planner });
  const auth = options.auth ?? { mode: "token", token: TOKEN };
  const readiness = { store: () => store.isHealthy() };
  const durable = options.durable ?? (() => store.durable());
  const app = await buildApi(
    { service, metrics, auth, clock, readiness, durable },
    { logger: options.logger },
  );
  await app.ready();
  return {
    app,
    store,
    fabric,
    metrics,
    async call(method, url, body, opts = {}) {
      const token = opts.token === undefined ? TOKEN : opts.token;
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined;
      if (opts.rawBody !== undefined) payload = opts.rawBody;
      else if (body !== undefined) payload = JSON.stringify(body);
      if (payload !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
      const res = await app.inject({ method, url, headers, ...(payload !== undefined && { payload }) });
      let parsed: unknown;
      try {
        parsed = res.body === "" ? undefined : JSON.parse(res.body);
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed, text: res.body, headers: res.headers };
    },
    settled: () => service.settle(),
    connectAll(clusterId) {
      const state = store.clusterState(clusterId)!;
      for (const sw of compileCluster(state)) {
        const m = state.members.find((x) => x.vmId === sw.vmId)!;
        fabric.connect(sw.dpid, m.endpoint ?? "192.0.2.254", [...sw.rules]);
      }
    },
    async close() {
      await app.close();
      await service.settle();
      store.close();
    },
  };
}

/** A test API holding cluster "db" (VNI 42) with members vm1 and vm2, whose switches hold their rules. */
export async function apiWithTwoMembers(): Promise<TestApi> {
  const api = await buildTestApi();
  const created = await api.call("POST", "/v1/clusters", {
    id: "db",
    vni: 42,
    tunnel: "vxlan",
    members: [
      { vmId: "vm1", vint0: "198.18.0.1", endpoint: "203.0.113.1" },
      { vmId: "vm2", vint0: "198.18.0.2", endpoint: "203.0.113.2" },
    ],
  });
  if (created.status !== 201) throw new Error(`creating cluster db answered ${created.status}`);
  api.connectAll("db");
  return api;
}

/** Everything a request could change: stored state and history, and what was sent to switches. */
export function snapshotOf({ store, fabric }: TestApi): string {
  return JSON.stringify(
    {
      clusters: store.listClusters(),
      members: store.allMembers(),
      linking: store.listLinking(),
      rebinds: store.listRebinds(),
      calls: fabric.calls.length,
      tables: [...fabric.switchesByDpid].map(([d, s]) => [d, s.rules]),
    },
    (_k, v) => (typeof v === "bigint" ? `${v}n` : v),
  );
}
