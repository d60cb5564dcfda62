import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControllerClient, type ControllerClientError } from "../../contract/controller-api/index.ts";

// What the controller's client puts on the wire and how it reads odd answers, against a local
// HTTP server that records each request and answers as told (controller-client.test.ts drives a
// real controller): no credentials unless configured, ids escaped, no body where none is due.
// Equivalent mutants, left alive on purpose: the token check's `!== undefined` as true (the text
// "undefined" passes it), a body spread of `body: undefined` (fetch sends none), and `code` or
// `field` spread as undefined into details (JSON drops it).

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}
let answer: { status: number; body: string } = { status: 200, body: "{}" };
const seen: Seen[] = [];
let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function last<T>(call: Promise<T>): Promise<{ result: T; req: Seen }> {
  seen.length = 0;
  const result = await call;
  return { result, req: seen[0]! };
}

async function failure(call: Promise<unknown>): Promise<ControllerClientError> {
  return (await call.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  )) as ControllerClientError;
}

describe("the controller client on the wire", () => {
  it("sends no credentials without a token, and no body or content type without input", async () => {
    answer = { status: 200, body: '{"clusters":[]}' };
    const { req } = await last(new ControllerClient({ url: base }).listClusters());
    expect(req.method).toBe("GET");
    expect(req.headers.authorization).toBeUndefined();
    expect(req.headers["content-type"]).toBeUndefined();
    expect(req.body).toBe("");
  });

  it("sends the token and JSON input; escapes ids; keeps a path prefix without its trailing slashes", async () => {
    answer = { status: 200, body: '{"rebinds":[{"id":1}]}' };
    const client = new ControllerClient({ url: `${base}/api//`, token: "t0k3n-0123456789abcdef" });
    expect(client.url).toBe(`${base}/api`);
    const { result, req } = await last(client.listRebinds("a b", "x/y"));
    expect(result).toEqual([{ id: 1 }]);
    expect(req.url).toBe("/api/v1/clusters/a%20b/members/x%2Fy/rebinds");
    expect(req.headers.authorization).toBe("Bearer t0k3n-0123456789abcdef");
    answer = { status: 200, body: "{}" };
    const put = await last(client.announceNextEndpoint("c", "m", "192.0.2.1"));
    expect([put.req.method, put.req.headers["content-type"], put.req.body]).toEqual([
      "PUT",
      "application/json",
      '{"endpoint":"192.0.2.1"}',
    ]);
    const batch = await last(client.rebindBatch("c d", [{ vmId: "m", endpoint: "192.0.2.2" }]));
    expect([batch.req.method, batch.req.url, batch.req.body]).toEqual([
      "POST",
      "/api/v1/clusters/c%20d/rebinds",
      '{"rebinds":[{"vmId":"m","endpoint":"192.0.2.2"}]}',
    ]);
  });

  it("asks for linking reports with only the filters given", async () => {
    answer = { status: 200, body: '{"reports":[]}' };
    const client = new ControllerClient({ url: base });
    expect((await last(client.listLinking())).req.url).toBe("/v1/linking");
    expect((await last(client.listLinking({ vmId: "m1" }))).req.url).toBe("/v1/linking?vmId=m1");
    expect((await last(client.listLinking({ clusterId: "c", vmId: undefined }))).req.url).toBe(
      "/v1/linking?clusterId=c",
    );
  });

  it("quotes at most 80 characters of an answer that is not JSON, with its status", async () => {
    answer = { status: 502, body: `<html>${"x".repeat(200)}` };
    const err = await failure(new ControllerClient({ url: base }).listSwitches());
    expect(err.code).toBe("CONTROLLER_BAD_ANSWER");
    expect(err.message).toBe(
      `GET ${base}/v1/switches: the controller answered 502 with no JSON (${JSON.stringify(`<html>${"x".repeat(74)}`)})`,
    );
    expect(err.details).toEqual({ status: 502 });
  });

  it("reads a refusal without code, message or field, or with ones of the wrong type", async () => {
    const client = new ControllerClient({ url: base });
    for (const body of ["{}", '{"code":7,"error":["x"],"field":false}', "null"]) {
      answer = { status: 409, body };
      const err = await failure(client.getCluster("c"));
      expect(err.message, body).toBe(`GET ${base}/v1/clusters/c: the controller answered 409`);
      expect(err.details, body).toEqual({ status: 409 });
      expect(err.field, body).toBeUndefined();
      expect(err.remoteCode, body).toBeUndefined();
    }
    answer = { status: 404, body: '{"error":"no such cluster"}' };
    expect((await failure(client.getCluster("c"))).message).toMatch(/answered 404 \(no such cluster\)$/);
    answer = { status: 400, body: '{"code":"INVALID_FIELD","field":"vni"}' };
    const invalid = await failure(client.getCluster("c"));
    expect(invalid.message).toMatch(/answered 400 \(INVALID_FIELD\)$/);
    expect(invalid.details).toEqual({ status: 400, code: "INVALID_FIELD", field: "vni" });
  });

  it("names its errors ControllerClientError", async () => {
    answer = { status: 409, body: "{}" };
    expect((await failure(new ControllerClient({ url: base }).listSwitches())).name).toBe(
      "ControllerClientError",
    );
  });

  it("refuses a token a header cannot carry without quoting it, and says so before sending anything", async () => {
    for (const token of ["secret-token\nx", "secret token", "secret-tökenü", ""]) {
      seen.length = 0;
      const err = await failure(new ControllerClient({ url: base, token }).listSwitches());
      expect(err).toMatchObject({ code: "INVALID_ARGUMENT", field: "token" });
      expect(err.message).toBe(
        `GET ${base}/v1/switches: the token must be visible ASCII characters (no whitespace or control characters)`,
      );
      expect(seen).toEqual([]);
    }
  });
});
