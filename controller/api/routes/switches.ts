import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import * as S from "../schemas.ts";

export function switchRoutes(app: FastifyInstance, { service }: ApiDeps): void {
  app.get(
    "/switches",
    {
      schema: {
        tags: ["switches"],
        summary: "Every member's switch (connected or not) and every connected switch that is no member",
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
    async () => ({ switches: await service.listSwitches() }),
  );
}
