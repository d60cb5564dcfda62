import { afterEach, describe, expect, it } from "vitest";
import { apiWithTwoMembers, buildTestApi, type TestApi } from "./support/test-api.ts";

// The error answer every REST API shares (contract/http/error-handler.ts), where mutation testing
// found it untested: an unexpected error leaks nothing, and each other kind of failure says what
// is wrong in a fixed shape.
let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("error answers", () => {
  it("an unexpected error is a bare 500: no message, no stack, no internals", async () => {
    api = await apiWithTwoMembers();
    api.fabric.apply = async () => {
      throw new Error("secret /etc/icsdn/token at fabric.ts:42");
    };
    const res = await api.call("POST", "/v1/clusters/db/members/vm1/rebind", { endpoint: "203.0.113.7" });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: "internal error", code: "INTERNAL" });
    expect(res.text).not.toContain("secret");
  });

  it("an unknown route names method and path, without the query", async () => {
    api = await buildTestApi();
    const res = await api.call("GET", "/v2/clusters?token=abc");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: "no route GET /v2/clusters", code: "NO_ROUTE" });
  });

  it("a body that is not JSON, or not sent as JSON", async () => {
    api = await buildTestApi();
    const bad = await api.call("POST", "/v1/clusters", undefined, { rawBody: "{nope" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "INVALID_JSON" });
    expect((bad.body as { error: string }).error).toMatch(/^body is not valid JSON: \S/);
    const text = await api.call("POST", "/v1/clusters", undefined, {
      rawBody: "x",
      contentType: "text/plain",
    });
    expect(text.status).toBe(415);
    expect(text.body).toEqual({ error: expect.stringMatching(/\S/), code: "FST_ERR_CTP_INVALID_MEDIA_TYPE" });
  });

  it("a missing, unknown or malformed field is named, with its path", async () => {
    api = await buildTestApi();
    const cases: [unknown, string, string][] = [
      [{ vni: 42, tunnel: "vxlan" }, "id", "id: required"],
      [
        { id: "db", vni: 42, tunnel: "vxlan", members: [{ vint0: "198.18.0.1" }] },
        "members[0].vmId",
        "members[0].vmId: required",
      ],
      [{ id: "db", vni: 42, tunnel: "vxlan", extra: 1 }, "extra", "extra: unknown field"],
      // An unknown name is given as sent: its "/" is not a path separator.
      [{ id: "db", vni: 42, tunnel: "vxlan", "a/b~1": 1 }, "a/b~1", "a/b~1: unknown field"],
      [
        { id: "db", vni: 42, tunnel: "vxlan", members: [{ vmId: "a", vint0: "198.18.0.1", "x/y": 1 }] },
        "members[0].x/y",
        "members[0].x/y: unknown field",
      ],
      [
        {
          id: "db",
          vni: 42,
          tunnel: "vxlan",
          members: [
            { vmId: "a", vint0: "198.18.0.1" },
            { vmId: "b", vint0: 7 },
          ],
        },
        "members[1].vint0",
        "members[1].vint0: must be string",
      ],
    ];
    for (const [body, field, error] of cases) {
      const res = await api.call("POST", "/v1/clusters", body);
      expect(res.status, error).toBe(400);
      expect(res.body, error).toEqual({ code: "INVALID_FIELD", field, error });
    }
  });

  it("a refused token says how to authenticate, never the token", async () => {
    api = await buildTestApi();
    const res = await api.call("GET", "/v1/clusters", undefined, { token: "wrong-0123456789abcdef" });
    expect(res.body).toEqual({
      error: "missing or wrong bearer token (Authorization: Bearer <token>)",
      code: "UNAUTHORIZED",
    });
  });
});
