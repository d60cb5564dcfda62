import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import { type RunningMediation, startMediation } from "../../mediation/server.ts";
import { expectAuthOnEveryRoute } from "../support/auth-on-every-route.ts";

const TOKEN = "mediation-auth-token-0123456789";

describe("the mediation's REST API, every route of its OpenAPI document", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-mauth-"));
  let service: RunningMediation;
  beforeAll(async () => {
    // No cloud and no controller are needed: every route must refuse before it would use them.
    service = await startMediation({
      dbPath: join(dir, "j.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "token", token: TOKEN },
      controller: new ControllerClientPort({ url: "http://127.0.0.1:9", token: undefined }),
      env: { OS_CLIENT_CONFIG_FILE: join(dir, "clouds.yaml") },
    });
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers 401 without a token and with a wrong one; only probes and metrics are open", () =>
    expectAuthOnEveryRoute(service.app, {
      token: TOKEN,
      open: ["GET /healthz", "GET /readyz", "GET /metrics"],
    }));
});
