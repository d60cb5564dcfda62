import type { AuthConfig } from "../../contract/http/auth.ts";
import type { ControllerMetrics } from "../metrics/controller-metrics.ts";
import type { ClusterService } from "../service/cluster-service.ts";

/** Everything the REST API needs; the composition root (server.ts) builds it. */
export interface ApiDeps {
  readonly service: ClusterService;
  readonly metrics: ControllerMetrics;
  readonly auth: AuthConfig;
  /** The service's clock (ms, monotonic): request arrival is stamped with it for update time. */
  readonly clock: () => number;
  /** Readiness checks by name (the store's, the OpenFlow listeners'): /readyz is ready when all pass. */
  readonly readiness: Readonly<Record<string, () => boolean | Promise<boolean>>>;
  /** Resolves once every committed write is on disk (ClusterStore.durable): writes are answered after it. */
  readonly durable: () => Promise<void>;
}
