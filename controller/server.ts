import type { FastifyInstance, FastifyServerOptions } from "fastify";
import type { AuthConfig } from "../contract/http/auth.ts";
import { boundUrl, type ListenAddress } from "../contract/http/serve-config.ts";
import { buildApi } from "./api/app.ts";
import type { CompileOptions } from "./compiler/flow-compiler.ts";
import { RulePlanner } from "./compiler/rule-planner.ts";
import { OfflineFabric } from "./fabric/offline-fabric.ts";
import type { SwitchFabric } from "./fabric/switch-fabric.ts";
import { ControllerMetrics } from "./metrics/controller-metrics.ts";
import { type OpenFlowOptions, OpenFlowServer } from "./openflow/openflow-server.ts";
import { ClusterLocks } from "./service/cluster-locks.ts";
import { ClusterService } from "./service/cluster-service.ts";
import { countConnectedSwitches, countMissingSwitches } from "./service/switch-inventory.ts";
import { ClusterStore } from "./store/cluster-store.ts";

/** The controller's settings, resolved once here; each part gets what it needs of them. */
export interface ControllerConfig {
  readonly dbPath: string;
  readonly listen: ListenAddress;
  readonly auth: AuthConfig;
  readonly logger?: FastifyServerOptions["logger"];
  /** The switch side (OpenFlow listeners); without it no switch can connect (OfflineFabric). */
  readonly openflow?: OpenFlowOptions;
  /** Compiler options (probe rules); default none. The planner built from them is the only user. */
  readonly compile?: CompileOptions;
}

export interface RunningController {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: ClusterStore;
  readonly metrics: ControllerMetrics;
  /** The switch side, when `openflow` was configured. */
  readonly openflow: OpenFlowServer | undefined;
  /** Resolves once every rebind answered so far has finished its cleanup and completed its record. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The composition root: store, planner and locks -> metrics -> switch side -> service -> REST
 * API, then listen. Nothing it builds imports it back.
 */
export async function startController(config: ControllerConfig): Promise<RunningController> {
  const store = ClusterStore.open(config.dbPath);
  store.endInterruptedRebinds();
  const planner = new RulePlanner(config.compile ?? {});
  const locks = new ClusterLocks();
  let openflow: OpenFlowServer | undefined;
  try {
    let fabric: SwitchFabric = new OfflineFabric();
    const metrics = new ControllerMetrics({
      connectedSwitches: () => countConnectedSwitches(fabric),
      missingSwitches: () => countMissingSwitches(store, fabric),
    });
    if (config.openflow) {
      openflow = new OpenFlowServer({ clusters: store, planner, locks, metrics }, config.openflow);
      fabric = openflow.fabric;
    }
    const clock = () => performance.now();
    const service = new ClusterService({ store, fabric, metrics, clock, locks, planner });
    const switchSide = openflow;
    const app = await buildApi(
      {
        service,
        metrics,
        auth: config.auth,
        clock,
        readiness: {
          store: () => store.isHealthy(),
          ...(switchSide && { openflow: () => switchSide.ready() }),
        },
        durable: () => store.durable(),
      },
      { logger: config.logger },
    );
    await openflow?.start();
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
      openflow,
      settled: () => service.settle(),
      async close() {
        await app.close();
        // Answered rebinds finish their cleanup and write their records before the store closes.
        await service.settle();
        await switchSide?.close();
        await store.durable();
        store.close();
      },
    };
  } catch (err) {
    await openflow?.close();
    store.close();
    throw err;
  }
}
