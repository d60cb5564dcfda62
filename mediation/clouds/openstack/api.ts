import type { IncomingMessage } from "node:http";
import { MediationError } from "../../errors.ts";
import { errorMessage, expectStatus, readText, send } from "./http.ts";
import { type ExchangeRequest, exchange, type HttpResponse } from "./http-exchange.ts";
import type { KeystoneSession } from "./keystone.ts";

/** Nova microversion we speak: 2.47+ embeds the flavor in a server, 2.45+ returns createImage's id. */
export const NOVA_MICROVERSION = "2.79";

export interface CallOptions {
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
  readonly ok?: readonly number[];
  readonly timeoutMs?: number;
}

/** Authenticated calls to one cloud's services: the token is attached, a 401 re-authenticates once. */
export class OpenStackApi {
  readonly cloud: string;
  readonly session: KeystoneSession;

  constructor(cloud: string, session: KeystoneSession) {
    this.cloud = cloud;
    this.session = session;
  }

  /** The raw response (body unread) after the status check. */
  async raw(
    service: string,
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<IncomingMessage> {
    const what = `cloud '${this.cloud}': ${service} ${method} ${path.split("?")[0]}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.session.token();
      const base = await this.session.endpoint(service);
      const headers: Record<string, string> = { "x-auth-token": token.value, ...options.headers };
      if (service === "compute") headers["openstack-api-version"] = `compute ${NOVA_MICROVERSION}`;
      let res: IncomingMessage;
      try {
        res = await send({
          method,
          url: `${base}${path}`,
          headers,
          ...(options.json !== undefined && { json: options.json }),
          ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
        });
      } catch (err) {
        throw new MediationError("CLOUD_API", `${what}: ${(err as Error).message}`, { cause: err });
      }
      // A token revoked early: authenticate once more.
      if (res.statusCode === 401 && attempt === 0) {
        res.resume();
        this.session.invalidate();
        continue;
      }
      await expectStatus(res, options.ok ?? [200, 201, 202, 204], what);
      return res;
    }
  }

  /**
   * An image's bytes either way (http-exchange.ts: read into the caller's memory, a body sent
   * chunk by chunk), after the status check; a 401 re-authenticates once when nothing was sent.
   */
  async exchange(
    service: string,
    method: string,
    path: string,
    options: Pick<ExchangeRequest, "body" | "headers" | "timeoutMs"> & { ok: readonly number[] },
  ): Promise<HttpResponse> {
    const what = `cloud '${this.cloud}': ${service} ${method} ${path.split("?")[0]}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.session.token();
      const base = await this.session.endpoint(service);
      let res: HttpResponse;
      try {
        res = await exchange({
          method,
          url: `${base}${path}`,
          headers: { "x-auth-token": token.value, ...options.headers },
          ...(options.body && { body: options.body }),
          ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
        });
      } catch (err) {
        throw new MediationError("CLOUD_API", `${what}: ${(err as Error).message}`, { cause: err });
      }
      if (res.status === 401 && attempt === 0 && !options.body) {
        res.destroy();
        this.session.invalidate();
        continue;
      }
      if (options.ok.includes(res.status)) return res;
      const text = await res.text(64 * 1024).catch(() => "");
      res.destroy();
      throw new MediationError("CLOUD_API", `${what}: HTTP ${res.status}: ${errorMessage(text)}`, {
        details: { status: res.status },
      });
    }
  }

  async json<T>(service: string, method: string, path: string, options: CallOptions = {}): Promise<T> {
    const res = await this.raw(service, method, path, options);
    const text = await readText(res, 32 << 20);
    return (text === "" ? {} : JSON.parse(text)) as T;
  }

  /** A GET that answers undefined on 404. */
  async find<T>(service: string, path: string): Promise<T | undefined> {
    const res = await this.raw(service, "GET", path, { ok: [200, 404] });
    const text = await readText(res, 32 << 20);
    return res.statusCode === 404 ? undefined : (JSON.parse(text) as T);
  }

  /** A DELETE that treats 404 as done (deleting twice is fine: the journal may replay it). */
  async remove(service: string, path: string): Promise<void> {
    const res = await this.raw(service, "DELETE", path, { ok: [200, 202, 204, 404] });
    res.resume();
  }
}
