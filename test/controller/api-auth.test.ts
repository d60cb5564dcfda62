import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { tokenMatches } from "../../contract/http/auth.ts";
import { buildTestApi, type TestApi, TOKEN } from "./support/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("bearer-token auth (on by default)", () => {
  it("refuses /v1 without the right token, with a WWW-Authenticate challenge", async () => {
    api = await buildTestApi();
    for (const token of [null, "wrong-token-0123456789", `${TOKEN}x`, TOKEN.slice(0, -1), ""]) {
      const res = await api.call("GET", "/v1/clusters", undefined, { token });
      expect(res.status, String(token)).toBe(401);
      expect(res.body).toMatchObject({ code: "UNAUTHORIZED" });
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="icsdn"');
    }
    const wrongScheme = await api.app.inject({
      method: "GET",
      url: "/v1/clusters",
      headers: { authorization: `Basic ${TOKEN}` },
    });
    expect(wrongScheme.statusCode).toBe(401);
    expect((await api.call("GET", "/v1/clusters")).status).toBe(200);
    const lower = await api.app.inject({
      method: "GET",
      url: "/v1/clusters",
      headers: { authorization: `bearer ${TOKEN}` },
    });
    expect(lower.statusCode).toBe(200);
  });

  it("refuses a write without the token before reading its body, and changes nothing", async () => {
    api = await buildTestApi();
    const res = await api.call(
      "POST",
      "/v1/clusters",
      { id: "web", vni: 42, tunnel: "vxlan" },
      { token: null },
    );
    expect(res.status).toBe(401);
    expect(api.store.listClusters()).toEqual([]);
  });

  it("leaves probes, metrics and the OpenAPI document open", async () => {
    api = await buildTestApi();
    for (const url of ["/healthz", "/readyz", "/metrics", "/openapi.json"]) {
      expect((await api.call("GET", url, undefined, { token: null })).status, url).toBe(200);
    }
  });

  it("is off only when configured off", async () => {
    api = await buildTestApi({ auth: { mode: "none" } });
    expect((await api.call("GET", "/v1/clusters", undefined, { token: null })).status).toBe(200);
    const doc = (await api.call("GET", "/openapi.json", undefined, { token: null })).body as {
      security?: unknown;
    };
    expect(doc.security).toBeUndefined();
  });

  it("never logs the token, right or wrong", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    api = await buildTestApi({ logger: { level: "trace", stream } });
    await api.call("GET", "/v1/clusters");
    await api.call("GET", "/v1/clusters", undefined, { token: "wrong-token-abcdefghijkl" });
    await api.call("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan" });
    const log = lines.join("");
    expect(log).toContain("incoming request");
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain("wrong-token-abcdefghijkl");
  });

  it("compares tokens in constant time, whatever their lengths", () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN, "")).toBe(false);
    expect(tokenMatches(TOKEN, `${TOKEN}${TOKEN}`)).toBe(false);
  });
});
