import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { AuthConfig } from "./auth.ts";
import { installErrorHandling } from "./error-handler.ts";

export interface RestAppOptions {
  readonly title: string;
  readonly description: string;
  readonly auth: AuthConfig;
  /** Fastify's logger option; off by default. The Authorization header is redacted either way. */
  readonly logger?: FastifyServerOptions["logger"];
}

/**
 * A Fastify app with our conventions: strict JSON bodies (no coercion, unknown fields refused),
 * the one error handler, OpenAPI 3.1 at /openapi.json with bearer auth declared for every route
 * that does not say `security: []`. Register the component's routes on the result.
 */
export async function createRestApp(options: RestAppOptions): Promise<FastifyInstance> {
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
  installErrorHandling(app);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: options.title, version: "1", description: options.description },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
      ...(options.auth.mode === "token" && { security: [{ bearerAuth: [] }] }),
    },
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}

const status = {
  type: "object",
  required: ["status"],
  properties: {
    status: { type: "string" },
    checks: { type: "object", additionalProperties: { type: "boolean" } },
  },
} as const;

/** Named readiness checks; a check that throws counts as not ready. */
export type ReadinessChecks = Readonly<Record<string, () => boolean | Promise<boolean>>>;

/** Liveness (the process answers) and readiness (every check passes). No auth: probes carry no credentials. */
export function healthRoutes(app: FastifyInstance, subject: string, checks: () => ReadinessChecks): void {
  app.get(
    "/healthz",
    {
      schema: { tags: ["health"], summary: "The process is alive", security: [], response: { 200: status } },
    },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        tags: ["health"],
        summary: `The ${subject} can serve`,
        security: [],
        response: { 200: status, 503: status },
      },
    },
    async (_request, reply) => {
      const results: Record<string, boolean> = {};
      for (const [name, check] of Object.entries(checks())) {
        results[name] = await Promise.resolve()
          .then(check)
          .catch(() => false);
      }
      const ready = Object.values(results).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks: results });
    },
  );
}

/** Prometheus exposition. No auth: scrapers usually have none, and these are counts, never addresses or tokens. */
export function metricsRoute(
  app: FastifyInstance,
  exposition: () => Promise<{ contentType: string; body: string }>,
): void {
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["metrics"],
        summary: "Prometheus metrics (text exposition format)",
        security: [],
        response: { 200: { type: "string" } },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await exposition();
      return reply.type(contentType).send(body);
    },
  );
}
