import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { IcsdnError } from "../../contract/errors/index.ts";
import { describeValidation } from "../../contract/http/error-handler.ts";
import { createRestApp, healthRoutes, metricsRoute } from "../../contract/http/rest-app.ts";
import { boundUrl, loadAuth, parseListen } from "../../contract/http/serve-config.ts";

// The REST plumbing the controller and the mediation share, tested on an app of its own: what
// reaches the logs (never the token), which errors keep their message (only 4xx), the OpenAPI
// document's auth, health and readiness, and the serve flags.
// Equivalent mutants, left alive on purpose:
// - error-handler.ts pathToField without `.slice(1)`: the leading "" part of a pointer leaves the
//   field "" either way; `err.field !== undefined && {...}` always spread: JSON drops an undefined
//   field; `fe.validation.length >= 0`: fastify never sets an empty validation list;
//   `fe.validationContext ?? "body"` with `&&`: fastify always names the context.
// - auth.ts `request.headers.authorization ?? "Stryker was here!"`: no header and that text are
//   both refused; `update(value, "")`: an empty encoding is utf8.
// - rest-app.ts `typeof options.logger === "object" ? ... : {}` always true: spreading `true` adds
//   nothing; `useDefaults: true`: no schema of ours declares a default.

const dir = mkdtempSync(join(tmpdir(), "icsdn-http-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function logSink(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const TOKEN = "a-test-token-0123456789";

interface OpenApiDoc {
  info: unknown;
  components: { securitySchemes: unknown };
  security?: unknown;
  paths: Record<string, { get: { responses: Record<string, unknown> } }>;
}

describe("the REST app's logs", () => {
  it("logs nothing unless a logger is asked for", async () => {
    app = await createRestApp({ title: "t", description: "d", auth: { mode: "none" } });
    // Fastify's logger when off: an abstract one, with no level.
    expect(app.log.level).toBeUndefined();
    const off = await createRestApp({ title: "t", description: "d", auth: { mode: "none" }, logger: false });
    expect(off.log.level).toBeUndefined();
    await off.close();
  });

  it("redacts the Authorization header whatever the serializers log, and logs 5xx failures only", async () => {
    const sink = logSink();
    app = await createRestApp({
      title: "t",
      description: "d",
      auth: { mode: "none" },
      logger: {
        level: "info",
        stream: sink.stream,
        serializers: { req: (r: { headers: unknown }) => ({ headers: r.headers }) },
      },
    });
    app.get("/fail/:status", async (request) => {
      const { status } = request.params as { status: string };
      if (status === "409") throw new IcsdnError("CONFLICT", "taken");
      if (status === "502") throw new IcsdnError("FABRIC_FAILED", "a switch failed");
      if (status === "store") throw new IcsdnError("STORE_FAILED", "the disk is full");
      throw new Error("a bug");
    });
    for (const status of ["409", "502", "500", "store"])
      await app.inject({
        method: "GET",
        url: `/fail/${status}`,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    const lines = sink.lines();
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    const headers = lines.flatMap((l) =>
      l.req ? [(l.req as { headers: Record<string, string> }).headers] : [],
    );
    expect(headers).toHaveLength(4);
    for (const h of headers) expect(h.authorization).toBe("[redacted]");
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => [l.msg, (l.err as { message: string }).message])).toEqual([
      ["request failed", "a switch failed"],
      ["unexpected error", "a bug"],
      ["request failed", "the disk is full"],
    ]);
  });
});

describe("the error answer", () => {
  it("keeps the message of a 4xx framework error only; 5xx ones become a bare 500", async () => {
    app = await createRestApp({ title: "t", description: "d", auth: { mode: "none" } });
    app.get("/status/:s", async (request) => {
      const s = Number((request.params as { s: string }).s);
      throw Object.assign(new Error(`secret detail ${s}`), { statusCode: s, code: `E${s}` });
    });
    const answer = async (s: number) => {
      const res = await app!.inject({ method: "GET", url: `/status/${s}` });
      return [res.statusCode, res.json()];
    };
    expect(await answer(400)).toEqual([400, { error: "secret detail 400", code: "E400" }]);
    expect(await answer(499)).toEqual([499, { error: "secret detail 499", code: "E499" }]);
    for (const s of [399, 500, 503])
      expect(await answer(s)).toEqual([500, { error: "internal error", code: "INTERNAL" }]);
  });

  it("names fields from JSON pointers: indexes in brackets, escaped names as sent", () => {
    const type = (instancePath: string) =>
      describeValidation({ keyword: "type", instancePath, params: {}, message: "must be string" }, "body");
    expect(type("/members/12/vint0")).toEqual({
      field: "members[12].vint0",
      error: "members[12].vint0: must be string",
    });
    expect(type("/a~1b/1st/c~0d~01")).toEqual({
      field: "a/b.1st.c~d~1",
      error: "a/b.1st.c~d~1: must be string",
    });
    expect(type("")).toEqual({ field: "body", error: "body: must be string" });
    expect(
      describeValidation(
        { keyword: "required", instancePath: "", params: { missingProperty: "id" } },
        "body",
      ),
    ).toEqual({ field: "id", error: "id: required" });
    expect(describeValidation({ keyword: "format", instancePath: "/x", params: {} }, "querystring")).toEqual({
      field: "x",
      error: "x: is invalid",
    });
  });
});

describe("the OpenAPI document", () => {
  it("declares bearer auth for every route when a token is required, and none when not", async () => {
    app = await createRestApp({
      title: "Test API",
      description: "for tests",
      auth: { mode: "token", token: TOKEN },
    });
    healthRoutes(app, "test service", () => ({}));
    metricsRoute(app, async () => ({ contentType: "text/plain", body: "" }));
    await app.ready();
    const doc = app.swagger() as unknown as OpenApiDoc;
    expect(doc.info).toEqual({ title: "Test API", version: "1", description: "for tests" });
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: "http", scheme: "bearer" } });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    // Probes and scrapers carry no credentials: these routes opt out, and say what they are.
    expect(doc.paths["/healthz"]?.get).toMatchObject({
      tags: ["health"],
      summary: "The process is alive",
      security: [],
    });
    expect(doc.paths["/readyz"]?.get).toMatchObject({
      tags: ["health"],
      summary: "The test service can serve",
      security: [],
    });
    expect(Object.keys(doc.paths["/readyz"]?.get.responses ?? {}).sort()).toEqual(["200", "503"]);
    expect(doc.paths["/metrics"]?.get).toMatchObject({
      tags: ["metrics"],
      summary: "Prometheus metrics (text exposition format)",
      security: [],
    });
    expect(Object.keys(doc.paths["/metrics"]?.get.responses ?? {})).toEqual(["200"]);

    const open = await createRestApp({ title: "t", description: "d", auth: { mode: "none" } });
    await open.ready();
    expect((open.swagger() as Record<string, unknown>).security).toBeUndefined();
    await open.close();
  });
});

describe("health and readiness", () => {
  it("is ready only when every check passes; a throwing or rejecting check counts as not ready", async () => {
    let checks: Record<string, () => boolean | Promise<boolean>> = {};
    app = await createRestApp({ title: "t", description: "d", auth: { mode: "token", token: TOKEN } });
    healthRoutes(app, "test", () => checks);
    const ready = async () => {
      const res = await app!.inject({ method: "GET", url: "/readyz" });
      return [res.statusCode, res.json()];
    };
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    checks = { db: () => true, controller: async () => true };
    expect(await ready()).toEqual([200, { status: "ready", checks: { db: true, controller: true } }]);
    checks = {
      db: () => true,
      disk: () => false,
      thrown: () => {
        throw new Error("x");
      },
      rejected: async () => Promise.reject(new Error("y")),
    };
    expect(await ready()).toEqual([
      503,
      { status: "not ready", checks: { db: true, disk: false, thrown: false, rejected: false } },
    ]);
  });
});

describe("serve flags", () => {
  it("parses HOST:PORT, the highest port included, and refuses anything after it", () => {
    expect(parseListen("10.0.0.1:65535")).toEqual({ host: "10.0.0.1", port: 65535 });
    for (const bad of ["127.0.0.1:80x", "127.0.0.1:65536", "[::1]:1:2"]) {
      const err = (() => {
        try {
          parseListen(bad);
        } catch (e) {
          return e as IcsdnError;
        }
      })();
      expect(err).toMatchObject({
        code: "INVALID_FIELD",
        field: "--listen",
        message: `--listen: '${bad}' is not HOST:PORT (e.g. 127.0.0.1:8080)`,
      });
    }
  });

  it("takes a token of exactly the minimum length, trimmed, from the environment; an empty one is none", () => {
    const sixteen = "0123456789abcdef";
    expect(loadAuth({ tokenEnv: "T", env: { T: `  ${sixteen}\n` } })).toEqual({
      mode: "token",
      token: sixteen,
    });
    const refused = (env: NodeJS.ProcessEnv) => {
      try {
        loadAuth({ tokenEnv: "T", env });
      } catch (e) {
        return e as IcsdnError;
      }
    };
    expect(refused({ T: "" })).toMatchObject({
      field: "--token-file",
      message: "no API token: give --token-file FILE, set T, or (for a lab only) --insecure-no-auth",
    });
    expect(refused({ T: sixteen.slice(1) })).toMatchObject({
      field: "T",
      message: "the token must be at least 16 characters without whitespace",
    });
    expect(refused({ T: "0123456789 abcdefgh" })?.field).toBe("T");
  });

  it("names the flag of each refusal, and never the token", () => {
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as IcsdnError;
      }
    };
    expect(
      refused(() => loadAuth({ tokenEnv: "T", tokenFile: "/x", insecureNoAuth: true, env: {} })),
    ).toMatchObject({
      field: "--insecure-no-auth",
      message: "--insecure-no-auth and --token-file exclude each other",
    });
    const unreadable = refused(() => loadAuth({ tokenEnv: "T", tokenFile: "/nonexistent/token", env: {} }));
    expect(unreadable?.field).toBe("--token-file");
    expect(unreadable?.message).toMatch(/^cannot read \/nonexistent\/token: ENOENT/);
    const file = join(dir, "short");
    writeFileSync(file, "short\n");
    expect(refused(() => loadAuth({ tokenEnv: "T", tokenFile: file, env: {} }))?.field).toBe("--token-file");
  });

  it("gives the URL a server bound, with the port it picked", () => {
    const tcp = { address: "::1", family: "IPv6", port: 40123 };
    expect(boundUrl({ host: "::1", port: 0 }, tcp)).toBe("http://[::1]:40123");
    expect(boundUrl({ host: "127.0.0.1", port: 8080 }, null)).toBe("http://127.0.0.1:8080");
    expect(boundUrl({ host: "127.0.0.1", port: 8080 }, "/run/x.sock")).toBe("http://127.0.0.1:8080");
  });
});

describe("the error base", () => {
  it("is named IcsdnError and has a cause only when given one", () => {
    const plain = new IcsdnError("CONFLICT", "m");
    expect(plain.name).toBe("IcsdnError");
    expect(Object.hasOwn(plain, "cause")).toBe(false);
    const cause = new Error("root");
    expect(new IcsdnError("CONFLICT", "m", { cause }).cause).toBe(cause);
  });
});
