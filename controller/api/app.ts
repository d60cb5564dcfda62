import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { requireBearerToken } from "../../contract/http/auth.ts";
import { createRestApp, healthRoutes, metricsRoute } from "../../contract/http/rest-app.ts";
import type { ApiDeps } from "./deps.ts";
import { clusterRoutes } from "./routes/clusters.ts";
import { linkingRoutes } from "./routes/linking.ts";
import { memberRoutes } from "./routes/members.ts";
import { switchRoutes } from "./routes/switches.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** When the request arrived, on ApiDeps.clock. */
    receivedAt: number;
  }
}

export interface ApiOptions {
  /** Fastify's logger option; off by default. The Authorization header is redacted either way. */
  readonly logger?: FastifyServerOptions["logger"];
}

/**
 * The controller's REST API: /v1 (bearer token unless auth is off), /healthz, /readyz, /metrics
 * and /openapi.json (open). Call `ready()` or `listen()` on the result.
 */
export async function buildApi(deps: ApiDeps, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = await createRestApp({
    title: "icsdn controller",
    description: "Cluster state, make-before-break rebinds and switch inventory for VM cluster mobility",
    auth: deps.auth,
    logger: options.logger,
  });
  app.decorateRequest("receivedAt", 0);
  app.addHook("onRequest", async (request) => {
    request.receivedAt = deps.clock();
  });
  // The store commits without an fsync on the event loop (cluster-store.ts): no write is
  // acknowledged, refused or not, before what it committed is on disk.
  app.addHook("onSend", async (request, _reply, payload) => {
    if (request.method !== "GET" && request.method !== "HEAD") await deps.durable();
    return payload;
  });

  healthRoutes(app, "controller", () => deps.readiness);
  metricsRoute(app, () => deps.metrics.exposition());
  await app.register(
    async (v1) => {
      requireBearerToken(v1, deps.auth);
      clusterRoutes(v1, deps);
      memberRoutes(v1, deps);
      switchRoutes(v1, deps);
      linkingRoutes(v1, deps);
    },
    { prefix: "/v1" },
  );
  return app;
}
