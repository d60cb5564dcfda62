import type { AuthConfig } from "../../contract/http/auth.ts";
import type { CompileOptions } from "../compiler/flow-compiler.ts";
import type { SwitchFabric } from "../fabric/switch-fabric.ts";
import type { ControllerMetrics } from "../metrics/controller-metrics.ts";
import type { ClusterService } from "../service/cluster-service.ts";
import type { ClusterStore } from "../store/cluster-store.ts";

/** Everything the REST API needs; the composition root (server.ts) builds it. */
export interface ApiDeps {
  readonly service: ClusterService;
  readonly store: ClusterStore;
  readonly fabric: SwitchFabric;
  readonly metrics: ControllerMetrics;
  readonly auth: AuthConfig;
  /** The service's clock (ms, monotonic): request arrival is stamped with it for update time. */
  readonly clock: () => number;
  /** The compiler options the service uses, so the inventory's desired rule counts agree. */
  readonly compile?: CompileOptions;
  /** Extra readiness checks by name (the OpenFlow listener adds its own); the store is always checked. */
  readonly readiness?: Readonly<Record<string, () => boolean | Promise<boolean>>>;
}
