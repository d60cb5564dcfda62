import type { FastifyInstance } from "fastify";
import type { RebindMetricResult } from "../../metrics/controller-metrics.ts";
import { type MemberBody, memberInput } from "../../model/member.ts";
import {
  type MemberPatchBody,
  memberPatch,
  type RebindBatchBody,
  rebindBatchInput,
  rebindInput,
} from "../../model/requests.ts";
import type { ApiDeps } from "../deps.ts";
import * as S from "../schemas.ts";
import { memberView } from "../views.ts";

type ClusterParams = { Params: { clusterId: string } };
type MemberParams = { Params: { clusterId: string; vmId: string } };
/** What the route schema S.rebindInput lets through. */
type RebindRequest = MemberParams & { Body: { endpoint: string } };
/** What S.rebindParams and S.rebindQuery let through. */
type RebindParams = {
  Params: { clusterId: string; vmId: string; rebindId: string };
  Querystring: { settled?: "true" | "false" };
};

export function memberRoutes(app: FastifyInstance, { service, metrics }: ApiDeps): void {
  app.post<ClusterParams & { Body: MemberBody }>(
    "/clusters/:clusterId/members",
    {
      schema: {
        tags: ["members"],
        summary: "Add a member; peers with known endpoints get its rules",
        params: S.clusterParams,
        body: S.memberInput,
        response: { 201: S.member, ...S.errors(404, 409, 502) },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(memberView(await service.addMember(request.params.clusterId, memberInput(request.body)))),
  );

  app.get<ClusterParams>(
    "/clusters/:clusterId/members",
    {
      schema: {
        tags: ["members"],
        summary: "List a cluster's members",
        params: S.clusterParams,
        response: {
          200: {
            type: "object",
            required: ["members"],
            properties: { members: { type: "array", items: S.member } },
          },
          ...S.errors(404),
        },
      },
    },
    async (request) => ({ members: service.listMembers(request.params.clusterId).map(memberView) }),
  );

  app.get<MemberParams>(
    "/clusters/:clusterId/members/:vmId",
    {
      schema: {
        tags: ["members"],
        summary: "One member",
        params: S.memberParams,
        response: { 200: S.member, ...S.errors(404) },
      },
    },
    async (request) => memberView(service.getMember(request.params.clusterId, request.params.vmId)),
  );

  app.patch<MemberParams & { Body: MemberPatchBody }>(
    "/clusters/:clusterId/members/:vmId",
    {
      schema: {
        tags: ["members"],
        summary: "Change a member's description (vint0 is immutable; endpoints change by rebind)",
        params: S.memberParams,
        body: S.memberPatch,
        response: { 200: S.member, ...S.errors(404, 409) },
      },
    },
    async (request) =>
      memberView(
        await service.updateMember(request.params.clusterId, request.params.vmId, memberPatch(request.body)),
      ),
  );

  app.delete<MemberParams>(
    "/clusters/:clusterId/members/:vmId",
    {
      schema: {
        tags: ["members"],
        summary: "Remove a member; peers stop sending to it, then stop accepting from it",
        params: S.memberParams,
        response: { 204: { type: "null" }, ...S.errors(404, 502) },
      },
    },
    async (request, reply) => {
      await service.removeMember(request.params.clusterId, request.params.vmId);
      return reply.code(204).send();
    },
  );

  app.post<RebindRequest>(
    "/clusters/:clusterId/members/:vmId/rebind",
    {
      schema: {
        tags: ["members"],
        summary: "The member now runs at a new endpoint: move every peer's tunnel there, make-before-break",
        description:
          "Phases: prepare (peers accept the new endpoint unless it was announced with PUT .../next-endpoint; " +
          "the member's switch gets all its rules), switch (peers send to the new endpoint), cleanup (peers stop " +
          "accepting the old one). The answer comes when the switch phase is confirmed (updateMs), with the new " +
          "endpoint committed; cleanup and the downtime probes follow and are written to the rebind's history " +
          "record (rebindId: GET .../rebinds/{rebindId}, ?settled=true waits for them). " +
          "Repeating it with the same endpoint is a no-op. 409 NOT_CONNECTED if the member's switch is not connected; " +
          "502 FABRIC_FAILED (with each switch's outcome) if a switch fails before the answer, and then nothing is " +
          "committed.",
        params: S.memberParams,
        body: S.rebindInput,
        response: { 200: S.rebindReport, ...S.errors(404, 409, 502) },
      },
      // Every outcome is counted here, the one place that sees them all (refused by the schema too).
      onError: async (request, _reply, error) => {
        request.rebindErrorCode = (error as { code?: unknown }).code;
      },
      onResponse: async (request, reply) => {
        const result = rebindResultOf(reply.statusCode, request.rebindErrorCode, request.rebindChanged);
        if (result) metrics.rebindsTotal.inc({ result });
      },
    },
    // Update time starts when the request arrived (stamped in onRequest), not when the handler ran.
    async (request) => {
      const { clusterId, vmId } = request.params;
      const report = await service.rebind(clusterId, vmId, rebindInput(request.body), request.receivedAt);
      request.rebindChanged = report.changed;
      return report;
    },
  );

  app.post<ClusterParams & { Body: RebindBatchBody }>(
    "/clusters/:clusterId/rebinds",
    {
      schema: {
        tags: ["members"],
        summary: "Several members now run at new endpoints: move them all in one make-before-break round",
        description:
          "An atomic commit's rebinds, all or nothing: one prepare phase (peers accept the new endpoints not " +
          "announced; each moved member's new switch accepts everything it will receive), ONE switch phase (every " +
          "switch, the moved members' new ones included, sends to all the new endpoints), then one cleanup round. " +
          "The answer comes when the switch phase is confirmed, every moved member's endpoint committed with a " +
          "history record each (rebinds[].rebindId). Members already at their endpoint are answered with " +
          "changed false, so the same batch again is a no-op. 400 if a member or an endpoint is listed twice; " +
          "404 if a member is unknown; 409 (NOT_CONNECTED, CONFLICT) as a single rebind; 502 FABRIC_FAILED if a " +
          "switch fails before the answer, and then no member is committed.",
        params: S.clusterParams,
        body: S.rebindBatchInput,
        response: { 200: S.batchRebindReport, ...S.errors(404, 409, 502) },
      },
      // Each member counts once in icsdn_rebinds_total, as its single rebind would.
      onError: async (request, _reply, error) => {
        request.rebindErrorCode = (error as { code?: unknown }).code;
      },
      onResponse: async (request, reply) => {
        // A refused batch counts once per member it names (once when it names none).
        const listed = (request.body as { rebinds?: unknown } | undefined)?.rebinds;
        const named = Array.isArray(listed) ? Math.max(1, listed.length) : 1;
        const outcomes = request.rebindOutcomes ?? Array.from({ length: named }, () => undefined);
        for (const changed of outcomes) {
          const result = rebindResultOf(reply.statusCode, request.rebindErrorCode, changed);
          if (result) metrics.rebindsTotal.inc({ result });
        }
      },
    },
    async (request) => {
      const report = await service.rebindBatch(
        request.params.clusterId,
        rebindBatchInput(request.body),
        request.receivedAt,
      );
      request.rebindOutcomes = report.rebinds.map((r) => r.changed);
      return report;
    },
  );

  app.put<RebindRequest>(
    "/clusters/:clusterId/members/:vmId/next-endpoint",
    {
      schema: {
        tags: ["members"],
        summary:
          "Announce where the member moves next: every peer accepts tunnel packets from there from now on",
        description:
          "Call it as soon as the member's new instance has its address (before its rebind): the rebind then only " +
          "switches where peers send, one round to the switches instead of two. The same endpoint again is a no-op; " +
          "another one replaces it; the rebind to it, or DELETE, withdraws it. 409 CONFLICT if another member uses " +
          "or announced it, or it is the member's current endpoint.",
        params: S.memberParams,
        body: S.rebindInput,
        response: { 200: S.member, ...S.errors(404, 409, 502) },
      },
    },
    async (request) =>
      memberView(
        await service.announceNextEndpoint(
          request.params.clusterId,
          request.params.vmId,
          rebindInput(request.body),
        ),
      ),
  );

  app.delete<MemberParams>(
    "/clusters/:clusterId/members/:vmId/next-endpoint",
    {
      schema: {
        tags: ["members"],
        summary: "Withdraw the member's announced next endpoint: peers stop accepting it",
        params: S.memberParams,
        response: { 200: S.member, ...S.errors(404, 502) },
      },
    },
    async (request) =>
      memberView(await service.withdrawNextEndpoint(request.params.clusterId, request.params.vmId)),
  );

  app.get<MemberParams>(
    "/clusters/:clusterId/members/:vmId/rebinds",
    {
      schema: {
        tags: ["members"],
        summary: "The member's rebind history (update times; cleanup and downtime once complete)",
        params: S.memberParams,
        response: {
          200: {
            type: "object",
            required: ["rebinds"],
            properties: { rebinds: { type: "array", items: S.rebindRecord } },
          },
          ...S.errors(404),
        },
      },
    },
    async (request) => ({ rebinds: service.listRebinds(request.params.clusterId, request.params.vmId) }),
  );

  app.get<RebindParams>(
    "/clusters/:clusterId/members/:vmId/rebinds/:rebindId",
    {
      schema: {
        tags: ["members"],
        summary: "One rebind's history record",
        description:
          "completion is pending while the rebind's cleanup and downtime probes run after its answer. With " +
          "?settled=true the answer waits until they are done (a few tens of ms), so cleanup, totalMs and " +
          "downtime are final.",
        params: S.rebindParams,
        querystring: S.rebindQuery,
        response: { 200: S.rebindRecord, ...S.errors(404) },
      },
    },
    async (request) => {
      const { clusterId, vmId, rebindId } = request.params;
      return service.getRebind(clusterId, vmId, Number(rebindId), request.query.settled === "true");
    },
  );
}

declare module "fastify" {
  interface FastifyRequest {
    /** The typed error code a rebind request failed with, for counting it. */
    rebindErrorCode?: unknown;
    /** Whether a rebind that succeeded changed the endpoint (ok) or found it there already (noop). */
    rebindChanged?: boolean;
    /** A batch rebind that succeeded: rebindChanged for each of its members. */
    rebindOutcomes?: readonly boolean[];
  }
}

/**
 * How a rebind response counts in icsdn_rebinds_total. An unauthenticated request is no rebind
 * attempt; a switch that failed (502), is not connected, or an unexpected error is an operational
 * failure, not a bad request.
 */
export function rebindResultOf(
  status: number,
  errorCode: unknown,
  changed: boolean | undefined,
): RebindMetricResult | undefined {
  if (status === 401 || status === 403) return undefined;
  if (status < 400) return changed === undefined ? undefined : changed ? "ok" : "noop";
  if (status >= 500 || errorCode === "NOT_CONNECTED") return "failed";
  return "refused";
}
