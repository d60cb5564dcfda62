import type { FastifyInstance, FastifyServerOptions } from "fastify";
import type { AuthConfig } from "../contract/http/auth.ts";
import { boundUrl, type ListenAddress } from "../contract/http/serve-config.ts";
import { buildApi } from "./api/app.ts";
import type { CompileOptions } from "./compiler/flow-compiler.ts";
import { OfflineFabric } from "./fabric/offline-fabric.ts";
import type { SwitchFabric } from "./fabric/switch-fabric.ts";
import { ControllerMetrics } from "./metrics/controller-metrics.ts";
import { ClusterService, clusterLockKey } from "./service/cluster-service.ts";
import { KeyedMutex } from "./service/keyed-mutex.ts";
import { countConnectedSwitches, countMissingSwitches } from "./service/switch-inventory.ts";
import { ClusterStore } from "./store/cluster-store.ts";

/** What the switch side gets to build itself: desired state, metrics, and the cluster locks. */
export interface FabricParts {
  readonly store: ClusterStore;
  readonly metrics: ControllerMetrics;
  /** Reconcile a connecting switch under its cluster's lock, so it never races a rebind. */
  readonly withClusterLock: <T>(clusterId: string, fn: () => Promise<T>) => Promise<T>;
  /** The compiler options of the whole controller: a reconciled switch must match what rebinds plan. */
  readonly compile: CompileOptions;
}

/** A fabric with a lifecycle: the OpenFlow server (listener + sessions) will be one. */
export interface FabricComponent extends SwitchFabric {
  start?(): Promise<void>;
  close?(): Promise<void>;
  /** Joins /readyz as check "openflow". */
  ready?(): boolean;
}

export interface ControllerConfig {
  readonly dbPath: string;
  readonly listen: ListenAddress;
  readonly auth: AuthConfig;
  readonly logger?: FastifyServerOptions["logger"];
  /** Builds the switch side; without it no switch can connect (OfflineFabric). */
  readonly fabric?: (parts: FabricParts) => FabricComponent;
  /** Compiler options (probe rules); default none. */
  readonly compile?: CompileOptions;
}

export interface RunningController {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: ClusterStore;
  readonly metrics: ControllerMetrics;
  close(): Promise<void>;
}

/** The composition root: store -> metrics -> fabric -> service -> REST API, then listen. */
export async function startController(config: ControllerConfig): Promise<RunningController> {
  const store = ClusterStore.open(config.dbPath);
  const locks = new KeyedMutex();
  const withClusterLock = <T>(clusterId: string, fn: () => Promise<T>) =>
    locks.run(clusterLockKey(clusterId), fn);
  let fabric: FabricComponent | undefined;
  try {
    let current: FabricComponent | undefined;
    const metrics = new ControllerMetrics({
      connectedSwitches: async () => (current ? countConnectedSwitches(current) : 0),
      missingSwitches: async () => (current ? countMissingSwitches(store, current) : 0),
    });
    const compile = config.compile ?? {};
    fabric = config.fabric
      ? config.fabric({ store, metrics, withClusterLock, compile })
      : new OfflineFabric();
    current = fabric;
    const clock = () => performance.now();
    const service = new ClusterService({ store, fabric, metrics, clock, locks, compile });
    const app = await buildApi(
      {
        service,
        store,
        fabric,
        metrics,
        auth: config.auth,
        clock,
        compile,
        readiness: fabric.ready ? { openflow: fabric.ready.bind(fabric) } : {},
      },
      { logger: config.logger },
    );
    await fabric.start?.();
    const running = fabric;
    try {
      await app.listen({ host: config.listen.host, port: config.listen.port });
    } catch (err) {
      await app.close();
      throw err;
    }
    return {
      url: boundUrl(config.listen, app.server.address()),
      app,
      store,
      metrics,
      async close() {
        await app.close();
        await running.close?.();
        store.close();
      },
    };
  } catch (err) {
    await fabric?.close?.();
    store.close();
    throw err;
  }
}
