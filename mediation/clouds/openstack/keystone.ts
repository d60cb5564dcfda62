import { MediationError } from "../../errors.ts";
import type { CloudAuth, CloudConfig } from "../clouds-yaml.ts";
import { errorMessage, readText, send } from "./http.ts";

interface CatalogEntry {
  readonly type: string;
  readonly endpoints: readonly {
    readonly interface: string;
    readonly region_id?: string;
    readonly region?: string;
    readonly url: string;
  }[];
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
  readonly catalog: readonly CatalogEntry[];
  readonly projectId: string | undefined;
}

/** Renew this long before Keystone's expiry, so no request is sent with a token about to die. */
const RENEW_BEFORE_MS = 5 * 60_000;

function domainJson(d: { id: string } | { name: string }): Record<string, string> {
  return "id" in d ? { id: d.id } : { name: d.name };
}

/** The Keystone v3 body for password or application-credential auth. */
export function authBody(auth: CloudAuth): unknown {
  if (auth.type === "password") {
    const project = auth.project.id
      ? { id: auth.project.id }
      : { name: auth.project.name, domain: domainJson(auth.project.domain) };
    return {
      auth: {
        identity: {
          methods: ["password"],
          password: {
            user: { name: auth.username, domain: domainJson(auth.userDomain), password: auth.password },
          },
        },
        scope: { project },
      },
    };
  }
  const credential = auth.id
    ? { id: auth.id, secret: auth.secret }
    : {
        name: auth.name,
        secret: auth.secret,
        user: { name: auth.username, domain: domainJson(auth.userDomain) },
      };
  return { auth: { identity: { methods: ["application_credential"], application_credential: credential } } };
}

/**
 * A Keystone v3 session: one token per cloud, reused until shortly before it expires, and the
 * service catalog read from it by type, region and interface.
 */
export class KeystoneSession {
  readonly #cloud: CloudConfig;
  readonly #now: () => number;
  #token: Token | undefined;
  #pending: Promise<Token> | undefined;

  constructor(cloud: CloudConfig, now: () => number = Date.now) {
    this.#cloud = cloud;
    this.#now = now;
  }

  /** A valid token (issued now if none, or if the one we hold expires soon). */
  async token(): Promise<Token> {
    const t = this.#token;
    if (t && t.expiresAt - this.#now() > RENEW_BEFORE_MS) return t;
    this.#pending ??= this.#issue().finally(() => {
      this.#pending = undefined;
    });
    this.#token = await this.#pending;
    return this.#token;
  }

  /** Forget the token (after a 401), so the next call authenticates again. */
  invalidate(): void {
    this.#token = undefined;
  }

  async endpoint(type: string): Promise<string> {
    const { catalog } = await this.token();
    const override = this.#cloud.endpointOverrides[type];
    if (override) return override;
    const region = this.#cloud.region;
    const entry = catalog.find((e) => e.type === type);
    const ep = entry?.endpoints.find(
      (e) =>
        e.interface === this.#cloud.interface &&
        (region === undefined || (e.region_id ?? e.region) === region),
    );
    if (!ep) {
      throw new MediationError(
        "CLOUD_AUTH",
        `cloud '${this.#cloud.name}': no ${this.#cloud.interface} ${type} endpoint${region ? ` in region ${region}` : ""} in the catalog`,
      );
    }
    return ep.url.replace(/\/+$/, "");
  }

  async projectId(): Promise<string> {
    const { projectId } = await this.token();
    if (!projectId)
      throw new MediationError("CLOUD_AUTH", `cloud '${this.#cloud.name}': the token has no project scope`);
    return projectId;
  }

  async #issue(): Promise<Token> {
    const url = `${this.#cloud.auth.authUrl.replace(/\/v3$/, "")}/v3/auth/tokens`;
    let res: Awaited<ReturnType<typeof send>>;
    try {
      res = await send({ method: "POST", url, json: authBody(this.#cloud.auth), timeoutMs: 30_000 });
    } catch (err) {
      throw new MediationError(
        "CLOUD_AUTH",
        `cloud '${this.#cloud.name}': Keystone at ${url} unreachable: ${(err as Error).message}`,
      );
    }
    const text = await readText(res);
    if (res.statusCode !== 201) {
      // Never the credentials: only what Keystone said.
      throw new MediationError(
        "CLOUD_AUTH",
        `cloud '${this.#cloud.name}': Keystone refused authentication: HTTP ${res.statusCode}: ${errorMessage(text)}`,
        { details: { status: res.statusCode } },
      );
    }
    const value = res.headers["x-subject-token"];
    const doc = JSON.parse(text) as {
      token: { expires_at: string; catalog?: CatalogEntry[]; project?: { id: string } };
    };
    if (typeof value !== "string")
      throw new MediationError("CLOUD_AUTH", `cloud '${this.#cloud.name}': Keystone sent no X-Subject-Token`);
    return {
      value,
      expiresAt: Date.parse(doc.token.expires_at),
      catalog: doc.token.catalog ?? [],
      projectId: doc.token.project?.id,
    };
  }
}
