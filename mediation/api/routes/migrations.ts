import type { FastifyInstance } from "fastify";
import { MediationError } from "../../errors.ts";
import type { Journal } from "../../journal/journal.ts";
import { type MigrationRequest, TERMINAL } from "../../model/migration.ts";
import type { MigrationRunner } from "../../runner/runner.ts";
import * as S from "../schemas.ts";
import { streamEvents } from "../sse.ts";
import { vmInitUserData } from "../user-data.ts";
import { migrationView } from "../views.ts";

interface MigrationBody {
  member: string;
  server?: string;
  source: { cloud: string };
  target: { cloud: string; network?: string };
  flavor?: string;
  dryRun?: boolean;
  vmInit?: Record<string, unknown>;
}

type IdParams = { Params: { id: string } };

export interface MigrationRouteDeps {
  readonly journal: Journal;
  readonly runner: MigrationRunner;
}

export function migrationRoutes(app: FastifyInstance, { journal, runner }: MigrationRouteDeps): void {
  const found = (id: string) => {
    const m = journal.get(id);
    if (!m) throw new MediationError("MIGRATION_NOT_FOUND", `no migration ${id}`, { field: "id" });
    return m;
  };

  app.post<{ Body: MigrationBody; Headers: { "idempotency-key"?: string } }>(
    "/migrations",
    {
      schema: {
        tags: ["migrations"],
        summary: "Migrate a cluster member to another cloud (202 + id); dryRun only runs the pre-checks",
        body: S.migrationInput,
        headers: {
          type: "object",
          properties: { "idempotency-key": { type: "string", minLength: 1, maxLength: 200 } },
        },
        response: { 200: S.dryRunResult, 202: S.migration, ...S.errors(404, 409, 422, 502) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const req: MigrationRequest = {
        member: b.member,
        server: b.server ?? b.member,
        sourceCloud: b.source.cloud,
        targetCloud: b.target.cloud,
        targetNetwork: b.target.network ?? "private",
        flavor: b.flavor,
        dryRun: b.dryRun ?? false,
        userData: b.vmInit === undefined ? undefined : vmInitUserData(b.vmInit),
      };
      if (req.dryRun) {
        const { problems, flavor, imageFormat } = await runner.precheck(req);
        return reply
          .code(200)
          .send({ dryRun: true, problems, flavor: flavor ?? null, imageFormat: imageFormat ?? null });
      }
      const { record } = await runner.start(req, request.headers["idempotency-key"]);
      return reply
        .code(202)
        .header("location", `/v1/migrations/${record.id}`)
        .send(migrationView(journal, record));
    },
  );

  app.get(
    "/migrations",
    {
      schema: {
        tags: ["migrations"],
        summary: "Every migration, newest first",
        response: {
          200: {
            type: "object",
            required: ["migrations"],
            properties: { migrations: { type: "array", items: S.migration } },
          },
          ...S.errors(),
        },
      },
    },
    async () => ({ migrations: journal.list().map((m) => migrationView(journal, m)) }),
  );

  app.get<IdParams>(
    "/migrations/:id",
    {
      schema: {
        tags: ["migrations"],
        summary: "One migration: phase, bytes, rate, ETA, timings, resources",
        params: S.idParams,
        response: { 200: S.migration, ...S.errors(404) },
      },
    },
    async (request) => migrationView(journal, found(request.params.id)),
  );

  app.get<IdParams>(
    "/migrations/:id/manifest",
    {
      schema: {
        tags: ["migrations"],
        summary: "The transfer's manifest: SHA-256 of every chunk and the whole image's hash",
        params: S.idParams,
        response: { 200: S.manifest, ...S.errors(404) },
      },
    },
    async (request) => {
      const m = found(request.params.id);
      const chunks = journal.manifestChunks(m.id);
      return { imageHash: m.imageHash, size: chunks.reduce((n, c) => n + c.length, 0), chunks };
    },
  );

  app.post<IdParams>(
    "/migrations/:id/cancel",
    {
      schema: {
        tags: ["migrations"],
        summary: "Cancel a migration before its commit point; it rolls back",
        params: S.idParams,
        response: { 202: S.migration, ...S.errors(404, 409) },
      },
    },
    async (request, reply) => {
      found(request.params.id);
      const record = runner.cancel(request.params.id);
      return reply.code(202).send(migrationView(journal, record));
    },
  );

  app.get<IdParams & { Headers: { "last-event-id"?: string } }>(
    "/migrations/:id/events",
    {
      schema: {
        tags: ["migrations"],
        summary: "Server-Sent Events: the migration's events from Last-Event-ID on, live until it ends",
        params: S.idParams,
        response: { 200: { type: "string" }, ...S.errors(404) },
      },
    },
    async (request, reply) => {
      const m = found(request.params.id);
      streamEvents(request, reply, {
        id: m.id,
        eventsAfter: (seq) => journal.eventsAfter(m.id, seq),
        ended: () => TERMINAL.includes(journal.get(m.id)?.status ?? "failed"),
        emitter: runner.events,
      });
    },
  );
}
