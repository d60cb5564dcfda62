import type { IncomingMessage } from "node:http";
import { IcsdnError, isErrorCode } from "../contract/errors/index.ts";
import type { ClusterMigrationView } from "./api/cluster-views.ts";
import type { MigrationView } from "./api/views.ts";
import { readText, send } from "./clouds/openstack/http.ts";
import { MediationError } from "./errors.ts";
import type { ClusterPlan } from "./planner/cluster-plan.ts";

export interface SseEvent {
  readonly id: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** A dry run's answer: the plan, its problems, and `apply`, the body that applies it as discovered. */
export type ClusterPlanAnswer = ClusterPlan & {
  readonly dryRun: true;
  readonly cluster: string;
  readonly mode: string;
  readonly apply: Record<string, unknown>;
};

/** The mediation's REST API for the CLI and tests. */
export class MediationClient {
  readonly #base: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#base = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  async #call<T>(
    method: string,
    path: string,
    json?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> {
    let res: IncomingMessage;
    try {
      res = await send({
        method,
        url: `${this.#base}${path}`,
        headers: { ...headers, ...(this.#token && { authorization: `Bearer ${this.#token}` }) },
        ...(json !== undefined && { json }),
      });
    } catch (err) {
      throw new MediationError("CLOUD_API", `mediation service at ${this.#base}: ${(err as Error).message}`);
    }
    const text = await readText(res);
    const body = text === "" ? undefined : (JSON.parse(text) as unknown);
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const e = body as
        | { error?: string; code?: string; field?: string; details?: Record<string, unknown> }
        | undefined;
      const code = e?.code && isErrorCode(e.code) ? e.code : "INTERNAL";
      // The service's own error, code and all, so the CLI exits with the registered exit code.
      throw new IcsdnError(code, e?.error ?? `HTTP ${status}`, {
        ...(e?.field && { field: e.field }),
        ...(e?.details && { details: e.details }),
      });
    }
    return { status, body: body as T };
  }

  async create(request: Record<string, unknown>, idempotencyKey?: string): Promise<MigrationView> {
    return (
      await this.#call<MigrationView>(
        "POST",
        "/v1/migrations",
        request,
        idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
      )
    ).body;
  }

  async dryRun(
    request: Record<string, unknown>,
  ): Promise<{ problems: { field: string; message: string }[]; flavor: string | null }> {
    return (
      await this.#call<{ problems: { field: string; message: string }[]; flavor: string | null }>(
        "POST",
        "/v1/migrations",
        { ...request, dryRun: true },
      )
    ).body;
  }

  async list(): Promise<MigrationView[]> {
    return (await this.#call<{ migrations: MigrationView[] }>("GET", "/v1/migrations")).body.migrations;
  }

  async get(id: string): Promise<MigrationView> {
    return (await this.#call<MigrationView>("GET", `/v1/migrations/${encodeURIComponent(id)}`)).body;
  }

  async cancel(id: string): Promise<MigrationView> {
    return (await this.#call<MigrationView>("POST", `/v1/migrations/${encodeURIComponent(id)}/cancel`)).body;
  }

  /** POST /v1/cluster-migrations: starts a cluster migration (the plan, edited or not, applied). */
  async createCluster(request: Record<string, unknown>): Promise<ClusterMigrationView> {
    const { dryRun: _, ...body } = request;
    return (await this.#call<ClusterMigrationView>("POST", "/v1/cluster-migrations", body)).body;
  }

  /** The editable plan of a cluster migration and every problem (creates nothing). */
  async planCluster(request: Record<string, unknown>): Promise<ClusterPlanAnswer> {
    return (
      await this.#call<ClusterPlanAnswer>("POST", "/v1/cluster-migrations", { ...request, dryRun: true })
    ).body;
  }

  async listClusters(): Promise<ClusterMigrationView[]> {
    return (await this.#call<{ clusterMigrations: ClusterMigrationView[] }>("GET", "/v1/cluster-migrations"))
      .body.clusterMigrations;
  }

  async getCluster(id: string): Promise<ClusterMigrationView> {
    return (await this.#call<ClusterMigrationView>("GET", `/v1/cluster-migrations/${encodeURIComponent(id)}`))
      .body;
  }

  async cancelCluster(id: string): Promise<ClusterMigrationView> {
    return (
      await this.#call<ClusterMigrationView>(
        "POST",
        `/v1/cluster-migrations/${encodeURIComponent(id)}/cancel`,
      )
    ).body;
  }

  /** A cluster migration's events (member: per member; progress: the whole; phase, committed, the end). */
  clusterEvents(id: string, after = 0, forMs?: number): AsyncGenerator<SseEvent> {
    return this.#sse(`/v1/cluster-migrations/${encodeURIComponent(id)}/events`, after, forMs);
  }

  /**
   * The migration's events as they come (Server-Sent Events), after event `after`, until it ends
   * (or, with `forMs`, until that much time has passed: a look at a migration still running).
   */
  events(id: string, after = 0, forMs?: number): AsyncGenerator<SseEvent> {
    return this.#sse(`/v1/migrations/${encodeURIComponent(id)}/events`, after, forMs);
  }

  async *#sse(path: string, after: number, forMs: number | undefined): AsyncGenerator<SseEvent> {
    const res = await send({
      method: "GET",
      url: `${this.#base}${path}`,
      headers: {
        accept: "text/event-stream",
        ...(after > 0 && { "last-event-id": String(after) }),
        ...(this.#token && { authorization: `Bearer ${this.#token}` }),
      },
      timeoutMs: 24 * 3600_000,
    });
    if (res.statusCode !== 200)
      throw new MediationError("CLOUD_API", `${path}: HTTP ${res.statusCode}: ${await readText(res)}`);
    const timer = forMs === undefined ? undefined : setTimeout(() => res.destroy(), forMs);
    let buffer = "";
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        buffer += chunk.toString("utf8");
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          const fields = new Map<string, string>();
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const at = line.indexOf(": ");
            if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2));
          }
          if (!fields.has("event")) continue;
          yield {
            id: Number(fields.get("id")),
            type: fields.get("event")!,
            data: JSON.parse(fields.get("data") ?? "{}") as Record<string, unknown>,
          };
        }
      }
    } catch (err) {
      // A look for a limited time ends by destroying the response.
      if (!(forMs !== undefined && res.destroyed)) throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
