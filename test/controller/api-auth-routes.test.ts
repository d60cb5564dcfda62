import { afterEach, describe, expect, it } from "vitest";
import { expectAuthOnEveryRoute } from "../support/auth-on-every-route.ts";
import { buildTestApi, type TestApi, TOKEN } from "./support/test-api.ts";

let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("the controller's REST API, every route of its OpenAPI document", () => {
  it("answers 401 without a token and with a wrong one; only probes and metrics are open", async () => {
    api = await buildTestApi();
    const checked = await expectAuthOnEveryRoute(api.app, {
      token: TOKEN,
      open: ["GET /healthz", "GET /readyz", "GET /metrics"],
    });
    // The walk really covered the API (a document that lost its paths would pass vacuously).
    expect(checked).toEqual(
      expect.arrayContaining([
        "POST /v1/clusters",
        "DELETE /v1/clusters/{clusterId}",
        "POST /v1/clusters/{clusterId}/members/{vmId}/rebind",
        "PUT /v1/clusters/{clusterId}/members/{vmId}/next-endpoint",
        "POST /v1/linking",
        "GET /v1/switches",
      ]),
    );
  });
});
