import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { requireBearerToken } from "../../contract/http/auth.ts";
import { installErrorHandling } from "../../contract/http/error-handler.ts";
import type { ApiDeps } from "./deps.ts";
import { clusterRoutes } from "./routes/clusters.ts";
import { healthRoutes } from "./routes/health.ts";
import { linkingRoutes } from "./routes/linking.ts";
import { memberRoutes } from "./routes/members.ts";
import { metricsRoutes } from "./routes/metrics.ts";
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
  const logger =
    options.logger === undefined || options.logger === false
      ? false
      : {
          ...(typeof options.logger === "object" ? options.logger : {}),
          redact: {
            paths: ["req.headers.authorization", 'req.headers["authorization"]'],
            censor: "[redacted]",
          },
        };
  const app = Fastify({
    logger,
    // Refuse what we do not know instead of silently dropping it, and never coerce "42" into 42.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  // JSON only: a text/plain body gets 415, not a confusing "must be object".
  app.removeContentTypeParser("text/plain");
  app.decorateRequest("receivedAt", 0);
  app.addHook("onRequest", async (request) => {
    request.receivedAt = deps.clock();
  });
  installErrorHandling(app);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "icsdn controller",
        version: "1",
        description: "Cluster state, make-before-break rebinds and switch inventory for VM cluster mobility",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
      // Every route needs the token unless it says `security: []` (health, metrics).
      ...(deps.auth.mode === "token" && { security: [{ bearerAuth: [] }] }),
    },
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  healthRoutes(app, deps);
  metricsRoutes(app, deps);
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
