import type { FastifyInstance } from "fastify";
import type { LinkingReportInput } from "../../model/requests.ts";
import type { ApiDeps } from "../deps.ts";
import * as S from "../schemas.ts";

type LinkingQuery = { Querystring: { clusterId?: string; vmId?: string } };

export function linkingRoutes(app: FastifyInstance, { service }: ApiDeps): void {
  app.post<{ Body: LinkingReportInput }>(
    "/linking",
    {
      schema: {
        tags: ["linking"],
        summary: "vm-init reports a VM's linking time (network step start -> icbr0 connected)",
        body: S.linkingInput,
        response: { 201: S.linkingRecord, ...S.errors(404) },
      },
    },
    async (request, reply) => reply.code(201).send(service.recordLinking(request.body)),
  );

  app.get<LinkingQuery>(
    "/linking",
    {
      schema: {
        tags: ["linking"],
        summary: "Linking reports, optionally for one cluster or VM",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { clusterId: { type: "string" }, vmId: { type: "string" } },
        },
        response: {
          200: {
            type: "object",
            required: ["reports"],
            properties: { reports: { type: "array", items: S.linkingRecord } },
          },
          ...S.errors(),
        },
      },
    },
    async (request) => ({ reports: service.listLinking(request.query) }),
  );
}
