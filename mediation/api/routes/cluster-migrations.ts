import type { FastifyInstance } from "fastify";
import { MediationError } from "../../errors.ts";
import type { Journal } from "../../journal/journal.ts";
import type { ClusterMode } from "../../model/cluster.ts";
import { TERMINAL } from "../../model/migration.ts";
import type { ClusterCoordinator } from "../../runner/cluster-coordinator.ts";
import type { ClusterMigrationInput, MemberOverride } from "../../runner/cluster-discovery.ts";
import { clusterMigrationView } from "../cluster-views.ts";
import * as S from "../schemas.ts";
import { streamEvents } from "../sse.ts";
import { vmInitUserData } from "../user-data.ts";

interface ClusterMigrationBody {
  cluster: string;
  target: { cloud: string; network?: string };
  mode: ClusterMode;
  maxParallel?: number;
  maxInTransit?: number;
  bandwidthMbps?: number;
  dryRun?: boolean;
  members?: {
    member: string;
    server?: string;
    source?: { cloud: string };
    target?: { cloud: string; network?: string };
    flavor?: string;
    vmInit?: Record<string, unknown>;
  }[];
}

type IdParams = { Params: { id: string } };

export interface ClusterRouteDeps {
  readonly journal: Journal;
  readonly coordinator: ClusterCoordinator;
}

/** The body as the coordinator takes it: each member's vm-init config rendered into user-data. */
function input(b: ClusterMigrationBody): ClusterMigrationInput {
  const members = (b.members ?? []).map((m): MemberOverride => {
    let userData: string | undefined;
    if (m.vmInit !== undefined) {
      try {
        userData = vmInitUserData(m.vmInit);
      } catch (err) {
        if (err instanceof MediationError)
          throw new MediationError(err.code, `members[${m.member}].${err.message}`, {
            field: `members[${m.member}].${err.field ?? "vmInit"}`,
          });
        throw err;
      }
    }
    return {
      member: m.member,
      ...(m.server !== undefined && { server: m.server }),
      ...(m.source !== undefined && { source: m.source }),
      ...(m.target !== undefined && { target: m.target }),
      ...(m.flavor !== undefined && { flavor: m.flavor }),
      ...(userData !== undefined && { userData }),
    };
  });
  return {
    cluster: b.cluster,
    target: b.target,
    mode: b.mode,
    ...(b.maxParallel !== undefined && { maxParallel: b.maxParallel }),
    ...(b.maxInTransit !== undefined && { maxInTransit: b.maxInTransit }),
    ...(b.bandwidthMbps !== undefined && { bandwidthMbps: b.bandwidthMbps }),
    members,
  };
}

export function clusterMigrationRoutes(
  app: FastifyInstance,
  { journal, coordinator }: ClusterRouteDeps,
): void {
  const found = (id: string) => {
    const r = journal.clusters.get(id);
    if (!r) throw new MediationError("MIGRATION_NOT_FOUND", `no cluster migration ${id}`, { field: "id" });
    return r;
  };

  app.post<{ Body: ClusterMigrationBody }>(
    "/cluster-migrations",
    {
      schema: {
        tags: ["cluster-migrations"],
        summary:
          "Migrate a whole cluster (202 + the view); dryRun returns the editable plan and every problem, creating nothing",
        body: S.clusterMigrationInput,
        response: { 200: S.clusterPlan, 202: S.clusterMigration, ...S.errors(404, 409, 422, 502) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (b.dryRun) {
        const plan = await coordinator.plan(input(b));
        // The body that applies this plan as discovered: edit it, then POST it.
        const { dryRun: _, ...rest } = b;
        const overrides = new Map((b.members ?? []).map((m) => [m.member, m]));
        const apply = {
          ...rest,
          members: plan.members.map((m) => ({
            ...overrides.get(m.member),
            member: m.member,
            server: m.server,
            ...(m.source.cloud !== null && { source: { cloud: m.source.cloud } }),
            target: m.target,
            ...(m.flavor.target !== null && { flavor: m.flavor.target }),
          })),
        };
        return reply.code(200).send({ dryRun: true, cluster: b.cluster, mode: b.mode, ...plan, apply });
      }
      const record = await coordinator.start(input(b));
      return reply
        .code(202)
        .header("location", `/v1/cluster-migrations/${record.id}`)
        .send(clusterMigrationView(journal, record));
    },
  );

  app.get(
    "/cluster-migrations",
    {
      schema: {
        tags: ["cluster-migrations"],
        summary: "Every cluster migration, newest first",
        response: {
          200: {
            type: "object",
            required: ["clusterMigrations"],
            properties: { clusterMigrations: { type: "array", items: S.clusterMigration } },
          },
          ...S.errors(),
        },
      },
    },
    async () => ({
      clusterMigrations: journal.clusters.list().map((r) => clusterMigrationView(journal, r)),
    }),
  );

  app.get<IdParams>(
    "/cluster-migrations/:id",
    {
      schema: {
        tags: ["cluster-migrations"],
        summary: "One cluster migration: each member's phase, bytes, rate, ETA; the commit's duration",
        params: S.idParams,
        response: { 200: S.clusterMigration, ...S.errors(404) },
      },
    },
    async (request) => clusterMigrationView(journal, found(request.params.id)),
  );

  app.post<IdParams>(
    "/cluster-migrations/:id/cancel",
    {
      schema: {
        tags: ["cluster-migrations"],
        summary: "Cancel a cluster migration before its commit point; its members roll back",
        params: S.idParams,
        response: { 202: S.clusterMigration, ...S.errors(404, 409) },
      },
    },
    async (request, reply) => {
      found(request.params.id);
      const record = coordinator.cancel(request.params.id);
      return reply.code(202).send(clusterMigrationView(journal, record));
    },
  );

  app.get<IdParams & { Headers: { "last-event-id"?: string } }>(
    "/cluster-migrations/:id/events",
    {
      schema: {
        tags: ["cluster-migrations"],
        summary:
          "Server-Sent Events: per member (member: phase, bytes, rate, ETA) and whole (progress, phase, committed), until it ends",
        params: S.idParams,
        response: { 200: { type: "string" }, ...S.errors(404) },
      },
    },
    async (request, reply) => {
      const r = found(request.params.id);
      streamEvents(request, reply, {
        id: r.id,
        eventsAfter: (seq) => journal.clusters.eventsAfter(r.id, seq),
        ended: () => TERMINAL.includes(journal.clusters.get(r.id)?.status ?? "failed"),
        emitter: coordinator.events,
      });
    },
  );
}
