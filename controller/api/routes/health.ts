import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";

const status = {
  type: "object",
  required: ["status"],
  properties: {
    status: { type: "string" },
    checks: { type: "object", additionalProperties: { type: "boolean" } },
  },
} as const;

/** Liveness (the process answers) and readiness (the store and the OpenFlow listeners work). No auth: probes carry no credentials. */
export function healthRoutes(app: FastifyInstance, deps: ApiDeps): void {
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
        summary: "The controller can serve",
        security: [],
        response: { 200: status, 503: status },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, boolean> = {};
      for (const [name, check] of Object.entries(deps.readiness)) {
        checks[name] = await Promise.resolve()
          .then(check)
          .catch(() => false);
      }
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    },
  );
}
