import { IcsdnError } from "../errors/index.ts";
import type { ErrorBody } from "../http/error-body.ts";
import { ControllerClientError } from "./client-error.ts";
import type {
  BatchRebindReport,
  Cluster,
  ClusterInput,
  ClusterPatch,
  ClusterWithMembers,
  LinkingInput,
  LinkingRecord,
  Member,
  MemberEndpointInput,
  MemberInput,
  MemberPatch,
  RebindRecord,
  RebindReport,
  SwitchEntry,
} from "./types.ts";

export interface ControllerClientOptions {
  /** The REST API's base URL, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  readonly url: string;
  /** The bearer token, when the API requires one. It appears in no error or message. */
  readonly token?: string | undefined;
  /** Each request gives up after this long (default 15 s). */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** What a bearer token may hold: visible ASCII, as the servers' `Bearer (\S+)` takes it. */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * The one typed client of the controller's REST API (/v1), for the lab, vm-init's linking report
 * and the mediation. Every failure is a ControllerClientError: CONTROLLER_UNREACHABLE (no
 * answer), CONTROLLER_REFUSED (an error answer, with the controller's status and code) or
 * CONTROLLER_BAD_ANSWER (not JSON).
 */
export class ControllerClient {
  /** The base URL without credentials or a trailing slash, as messages show it. */
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: ControllerClientOptions) {
    const base = new URL(options.url);
    this.url = `${base.origin}${base.pathname}`.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  createCluster(input: ClusterInput): Promise<ClusterWithMembers> {
    return this.#call("POST", "/v1/clusters", input);
  }

  async listClusters(): Promise<Cluster[]> {
    return (await this.#call<{ clusters: Cluster[] }>("GET", "/v1/clusters")).clusters;
  }

  getCluster(clusterId: string): Promise<ClusterWithMembers> {
    return this.#call("GET", clusterPath(clusterId));
  }

  updateCluster(clusterId: string, patch: ClusterPatch): Promise<Cluster> {
    return this.#call("PATCH", clusterPath(clusterId), patch);
  }

  deleteCluster(clusterId: string): Promise<void> {
    return this.#call("DELETE", clusterPath(clusterId));
  }

  addMember(clusterId: string, input: MemberInput): Promise<Member> {
    return this.#call("POST", `${clusterPath(clusterId)}/members`, input);
  }

  async listMembers(clusterId: string): Promise<Member[]> {
    return (await this.#call<{ members: Member[] }>("GET", `${clusterPath(clusterId)}/members`)).members;
  }

  getMember(clusterId: string, vmId: string): Promise<Member> {
    return this.#call("GET", memberPath(clusterId, vmId));
  }

  updateMember(clusterId: string, vmId: string, patch: MemberPatch): Promise<Member> {
    return this.#call("PATCH", memberPath(clusterId, vmId), patch);
  }

  removeMember(clusterId: string, vmId: string): Promise<void> {
    return this.#call("DELETE", memberPath(clusterId, vmId));
  }

  /** Peers accept the member's tunnel packets from `endpoint` from now on (before its rebind). */
  announceNextEndpoint(clusterId: string, vmId: string, endpoint: string): Promise<Member> {
    return this.#call("PUT", `${memberPath(clusterId, vmId)}/next-endpoint`, { endpoint });
  }

  withdrawNextEndpoint(clusterId: string, vmId: string): Promise<Member> {
    return this.#call("DELETE", `${memberPath(clusterId, vmId)}/next-endpoint`);
  }

  /** Moves every peer's tunnel to the member's new endpoint, make-before-break. */
  rebind(clusterId: string, vmId: string, endpoint: string): Promise<RebindReport> {
    return this.#call("POST", `${memberPath(clusterId, vmId)}/rebind`, { endpoint });
  }

  /**
   * Moves every listed member of the cluster at once: one make-before-break round for all of them,
   * all or nothing (an atomic commit's rebinds). Members already at their endpoint are unchanged.
   */
  rebindBatch(clusterId: string, rebinds: readonly MemberEndpointInput[]): Promise<BatchRebindReport> {
    return this.#call("POST", `${clusterPath(clusterId)}/rebinds`, { rebinds });
  }

  /** The member's rebind history, oldest first (a record may still be pending). */
  async listRebinds(clusterId: string, vmId: string): Promise<RebindRecord[]> {
    return (await this.#call<{ rebinds: RebindRecord[] }>("GET", `${memberPath(clusterId, vmId)}/rebinds`))
      .rebinds;
  }

  /**
   * One rebind's history record (RebindReport.rebindId). With `settled`, the controller answers
   * once its cleanup and downtime measurement are done (completion "done"), not before.
   */
  getRebind(
    clusterId: string,
    vmId: string,
    rebindId: number,
    options: { settled?: boolean } = {},
  ): Promise<RebindRecord> {
    const query = options.settled ? "?settled=true" : "";
    return this.#call("GET", `${memberPath(clusterId, vmId)}/rebinds/${rebindId}${query}`);
  }

  /** Every member's switch (connected or not) and every connected switch that is no member; or only those of one cluster or member. */
  async listSwitches(filter: { clusterId?: string; vmId?: string } = {}): Promise<SwitchEntry[]> {
    return (await this.#call<{ switches: SwitchEntry[] }>("GET", `/v1/switches${queryOf(filter)}`)).switches;
  }

  reportLinking(report: LinkingInput): Promise<LinkingRecord> {
    return this.#call("POST", "/v1/linking", report);
  }

  async listLinking(filter: { clusterId?: string; vmId?: string } = {}): Promise<LinkingRecord[]> {
    return (await this.#call<{ reports: LinkingRecord[] }>("GET", `/v1/linking${queryOf(filter)}`)).reports;
  }

  async #call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const where = `${method} ${this.url}${path}`;
    // fetch quotes a header value it refuses in its error: such a token is refused here, unquoted.
    if (this.#token !== undefined && !HEADER_TOKEN.test(this.#token)) {
      throw new IcsdnError(
        "INVALID_ARGUMENT",
        `${where}: the token must be visible ASCII characters (no whitespace or control characters)`,
        { field: "token" },
      );
    }
    const headers: Record<string, string> = {};
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new ControllerClientError("CONTROLLER_UNREACHABLE", `${where}: ${this.#whyUnreachable(err)}`);
    }
    if (res.status === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ControllerClientError(
        "CONTROLLER_BAD_ANSWER",
        `${where}: the controller answered ${res.status} with no JSON (${JSON.stringify(text.slice(0, 80))})`,
        { details: { status: res.status } },
      );
    }
    if (!res.ok) throw refusal(where, res.status, parsed);
    return parsed as T;
  }

  #whyUnreachable(err: unknown): string {
    const e = err as Error & { cause?: { code?: unknown } };
    if (e.name === "TimeoutError") return `no answer within ${this.#timeoutMs} ms`;
    return typeof e.cause?.code === "string" ? e.cause.code : e.message;
  }
}

function refusal(where: string, status: number, answer: unknown): ControllerClientError {
  const body = (typeof answer === "object" && answer !== null ? answer : {}) as Partial<ErrorBody>;
  const code = typeof body.code === "string" ? body.code : undefined;
  const error = typeof body.error === "string" ? body.error : undefined;
  const field = typeof body.field === "string" ? body.field : undefined;
  const why = [code, error].filter((x) => x !== undefined).join(": ");
  return new ControllerClientError(
    "CONTROLLER_REFUSED",
    `${where}: the controller answered ${status}${why ? ` (${why})` : ""}`,
    {
      field,
      details: { status, ...(code !== undefined && { code }), ...(field !== undefined && { field }) },
      remoteStatus: status,
      remoteCode: code,
    },
  );
}

function clusterPath(clusterId: string): string {
  return `/v1/clusters/${encodeURIComponent(clusterId)}`;
}

function memberPath(clusterId: string, vmId: string): string {
  return `${clusterPath(clusterId)}/members/${encodeURIComponent(vmId)}`;
}

/** `?a=b&...` of the defined entries, or nothing. */
function queryOf(filter: Readonly<Record<string, string | undefined>>): string {
  const query = new URLSearchParams(
    Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined),
  ).toString();
  return query ? `?${query}` : "";
}
