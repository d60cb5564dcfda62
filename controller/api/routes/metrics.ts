import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";

/** Prometheus exposition. No auth: scrapers usually have none, and these are counts, never addresses or tokens. */
export function metricsRoutes(app: FastifyInstance, deps: ApiDeps): void {
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
      const { contentType, body } = await deps.metrics.exposition();
      return reply.type(contentType).send(body);
    },
  );
}
