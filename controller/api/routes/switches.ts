import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import * as S from "../schemas.ts";

export function switchRoutes(app: FastifyInstance, { service }: ApiDeps): void {
  app.get<{ Querystring: { clusterId?: string; vmId?: string } }>(
    "/switches",
    {
      schema: {
        tags: ["switches"],
        summary:
          "Every member's switch (connected or not) and every connected switch that is no member; " +
          "with clusterId and/or vmId, only those members' switches",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { clusterId: { type: "string" }, vmId: { type: "string" } },
        },
        response: {
          200: {
            type: "object",
            required: ["switches"],
            properties: { switches: { type: "array", items: S.switchEntry } },
          },
          ...S.errors(),
        },
      },
    },
    async (request) => ({ switches: await service.listSwitches(request.query) }),
  );
}
