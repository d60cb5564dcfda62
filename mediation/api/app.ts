import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { type AuthConfig, requireBearerToken } from "../../contract/http/auth.ts";
import { createRestApp, healthRoutes, metricsRoute } from "../../contract/http/rest-app.ts";
import type { Journal } from "../journal/journal.ts";
import type { MediationMetrics } from "../metrics.ts";
import type { ControllerPort } from "../ports/controller.ts";
import type { ClusterCoordinator } from "../runner/cluster-coordinator.ts";
import type { MigrationRunner } from "../runner/runner.ts";
import { clusterMigrationRoutes } from "./routes/cluster-migrations.ts";
import { migrationRoutes } from "./routes/migrations.ts";

export interface MediationApiDeps {
  readonly journal: Journal;
  readonly runner: MigrationRunner;
  readonly coordinator: ClusterCoordinator;
  readonly metrics: MediationMetrics;
  readonly controller: ControllerPort;
  readonly auth: AuthConfig;
}

/** The mediation's REST API: /v1/migrations and /v1/cluster-migrations (bearer token), /healthz, /readyz, /metrics, /openapi.json. */
export async function buildMediationApi(
  deps: MediationApiDeps,
  logger?: FastifyServerOptions["logger"],
): Promise<FastifyInstance> {
  const app = await createRestApp({
    title: "icsdn mediation",
    description: "Migrates cluster members between clouds: streamed, verified, journaled, links kept alive",
    auth: deps.auth,
    logger,
  });
  healthRoutes(app, "mediation", () => ({
    journal: () => deps.journal.isHealthy(),
    controller: () => deps.controller.ready(),
  }));
  metricsRoute(app, () => deps.metrics.exposition());
  await app.register(
    async (v1) => {
      requireBearerToken(v1, deps.auth);
      migrationRoutes(v1, deps);
      clusterMigrationRoutes(v1, deps);
    },
    { prefix: "/v1" },
  );
  return app;
}
