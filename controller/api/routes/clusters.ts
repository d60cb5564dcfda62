import type { FastifyInstance } from "fastify";
import type { ClusterPatch } from "../../../contract/controller-api/index.ts";
import { type ClusterCreateBody, clusterCreateInput, MAX_CLUSTER_MEMBERS } from "../../model/requests.ts";
import type { ApiDeps } from "../deps.ts";
import * as S from "../schemas.ts";
import { clusterStateView, clusterView } from "../views.ts";

const CREATE_BODY_LIMIT = 8 * 1024 * 1024;

type ClusterParams = { Params: { clusterId: string } };

export function clusterRoutes(app: FastifyInstance, { service }: ApiDeps): void {
  app.post<{ Body: ClusterCreateBody }>(
    "/clusters",
    {
      // 5,000 members with 256-character descriptions do not fit the default 1 MiB.
      bodyLimit: CREATE_BODY_LIMIT,
      schema: {
        tags: ["clusters"],
        summary: `Create a cluster, optionally with its first members (all or nothing; at most ${MAX_CLUSTER_MEMBERS})`,
        body: S.clusterInput,
        response: { 201: S.clusterWithMembers, ...S.errors(409, 502) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(clusterStateView(await service.createCluster(clusterCreateInput(request.body)))),
  );

  app.get(
    "/clusters",
    {
      schema: {
        tags: ["clusters"],
        summary: "List clusters",
        response: {
          200: {
            type: "object",
            required: ["clusters"],
            properties: { clusters: { type: "array", items: S.cluster } },
          },
          ...S.errors(),
        },
      },
    },
    async () => ({ clusters: service.listClusters().map(clusterView) }),
  );

  app.get<ClusterParams>(
    "/clusters/:clusterId",
    {
      schema: {
        tags: ["clusters"],
        summary: "A cluster and its members",
        params: S.clusterParams,
        response: { 200: S.clusterWithMembers, ...S.errors(404) },
      },
    },
    async (request) => clusterStateView(service.getCluster(request.params.clusterId)),
  );

  app.patch<ClusterParams & { Body: ClusterPatch }>(
    "/clusters/:clusterId",
    {
      schema: {
        tags: ["clusters"],
        summary: "Change a cluster's description (vni and tunnel are immutable)",
        params: S.clusterParams,
        body: S.clusterPatch,
        response: { 200: S.cluster, ...S.errors(404, 409) },
      },
    },
    async (request) => clusterView(await service.updateCluster(request.params.clusterId, request.body)),
  );

  app.delete<ClusterParams>(
    "/clusters/:clusterId",
    {
      schema: {
        tags: ["clusters"],
        summary: "Delete a cluster that has no members",
        params: S.clusterParams,
        response: { 204: { type: "null" }, ...S.errors(404, 409) },
      },
    },
    async (request, reply) => {
      await service.deleteCluster(request.params.clusterId);
      return reply.code(204).send();
    },
  );
}
