import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { CloudConfig } from "../../mediation/clouds/clouds-yaml.ts";
import { SCHEMA_TTL_MS } from "../../mediation/clouds/openstack/glance.ts";
import { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import { planTargetFormat } from "../../mediation/transfer/convert-transfer.ts";
import { passwordCloud } from "./support/glance-server.ts";

/**
 * A real HTTP server answering Keystone's token request and Glance's image schema (only qcow2),
 * counting the schema requests: what every pre-check and every member's transfer asks.
 */
class SchemaServer {
  readonly #server: Server;
  schemaGets = 0;
  failNext = false;

  constructor() {
    this.#server = createServer((req, res) => {
      if (req.method === "POST" && req.url === "/v3/auth/tokens") {
        req.resume();
        res.writeHead(201, { "content-type": "application/json", "x-subject-token": "t" });
        const catalog = [{ type: "image", endpoints: [{ interface: "public", url: this.url }] }];
        const expires = new Date(Date.now() + 3_600_000).toISOString();
        res.end(JSON.stringify({ token: { expires_at: expires, catalog } }));
        return;
      }
      if (req.method === "GET" && req.url === "/v2/schemas/image") {
        this.schemaGets++;
        if (this.failNext) {
          this.failNext = false;
          res.writeHead(500).end('{"message": "down"}');
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ properties: { disk_format: { enum: [null, "qcow2"] } } }));
        return;
      }
      res.writeHead(404).end();
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const cloud = (authUrl: string): CloudConfig => passwordCloud("schema-cloud", authUrl);

describe("pre-checks' repeated I/O is cached", () => {
  const server = new SchemaServer();
  beforeAll(() => server.start());
  afterAll(() => server.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  it("asks a Glance for its disk formats once for many pre-checks and transfers, again after the TTL", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    server.schemaGets = 0;
    const target = new OpenStackDriver(cloud(server.url));
    const qcow2 = { diskFormat: "qcow2", containerFormat: "bare" };
    // Four members' pre-checks and transfers, at once and after each other.
    await Promise.all([planTargetFormat(qcow2, target), planTargetFormat(qcow2, target)]);
    for (let i = 0; i < 6; i++)
      expect(await planTargetFormat(qcow2, target)).toEqual({ kind: "as_is", format: "qcow2" });
    expect(server.schemaGets).toBe(1);
    vi.setSystemTime(Date.now() + SCHEMA_TTL_MS);
    expect(await target.acceptedDiskFormats()).toEqual(["qcow2"]);
    expect(server.schemaGets).toBe(2);
  });

  it("does not keep a failed schema request", async () => {
    server.schemaGets = 0;
    server.failNext = true;
    const target = new OpenStackDriver(cloud(server.url));
    await expect(target.acceptedDiskFormats()).rejects.toThrow(/HTTP 500/);
    expect(await target.acceptedDiskFormats()).toEqual(["qcow2"]);
    expect(await target.acceptedDiskFormats()).toEqual(["qcow2"]);
    expect(server.schemaGets).toBe(2);
  });
});

describe("the converter check", () => {
  const savedPath = process.env.PATH;
  const empty = mkdtempSync(join(tmpdir(), "icsdn-no-tools-"));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it("keeps a found converter for the process (no qemu-img/nbdkit spawned again) and asks again after a miss", async () => {
    vi.resetModules();
    const { converterAvailable } = await import("../../mediation/transfer/qemu-convert.ts");
    // Not found: asked again at the next call, which finds the tools once they are on the PATH.
    process.env.PATH = empty;
    expect(await converterAvailable()).toBe(false);
    process.env.PATH = savedPath;
    expect(await converterAvailable()).toBe(true);
    // Found: the next checks spawn nothing (with the tools off the PATH a spawn would answer false).
    process.env.PATH = empty;
    expect(await converterAvailable()).toBe(true);
    expect(await converterAvailable()).toBe(true);
  });
});
