import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { exchange, type HttpResponse } from "../../mediation/clouds/openstack/http-exchange.ts";
import { ResponseParser } from "../../mediation/clouds/openstack/http-response-parser.ts";
import { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import { streamTransfer } from "../../mediation/transfer/stream-transfer.ts";
import { GlanceServer } from "./support/glance-server.ts";

const MiB = 1 << 20;

/** Reads the whole body in `size`-byte reads. */
async function readAll(res: HttpResponse, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const target = Buffer.alloc(size);
    const n = await res.readInto(target);
    if (n === 0) return Buffer.concat(parts);
    parts.push(target.subarray(0, n));
  }
}

/** A raw TCP server that answers every connection with `respond` (bytes as it likes, then whatever it does). */
async function rawServer(
  respond: (socket: Socket) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", () => respond(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("ResponseParser (fed byte by byte and all at once)", () => {
  const parse = (wire: Buffer, step: number) => {
    const p = new ResponseParser();
    const body: Buffer[] = [];
    for (let from = 0; from < wire.length; from += step) {
      const end = Math.min(from + step, wire.length);
      let at = from;
      while (at < end) {
        at = p.skip(wire, at, end);
        const n = p.body(at, end);
        body.push(wire.subarray(at, at + n));
        p.took(n);
        at += n;
        if (p.done) break;
      }
    }
    return { head: p.head, body: Buffer.concat(body).toString(), done: p.done };
  };

  it("reads a chunked body with extensions and trailers after a 100 Continue", () => {
    const wire = Buffer.from(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n" +
        "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
    );
    for (const step of [1, 2, 7, wire.length]) {
      expect(parse(wire, step)).toEqual({
        head: { status: 200, headers: { "transfer-encoding": "chunked", "x-a": "1, 2" } },
        body: "hello 0123456789",
        done: true,
      });
    }
  });

  it("reads a Content-Length body and stops at its end; refuses what is not HTTP", () => {
    const wire = Buffer.from("HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\n\r\nabcdEXTRA");
    for (const step of [1, 3, wire.length]) expect(parse(wire, step).body).toBe("abcd");
    expect(() => parse(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n"), 100)).toThrow(/not an HTTP\/1.x status line/);
    expect(() =>
      parse(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 100),
    ).toThrow(/bad chunk size/);
  });
});

describe("exchange (real sockets)", () => {
  const data = randomBytes(3 * MiB + 12345);
  let server: Server;
  let url: string;
  let received: Buffer[] = [];
  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      if (req.method === "PUT") {
        received = [];
        if (req.url === "/early") {
          res.writeHead(413, { "content-type": "application/json" }).end('{"message": "too big"}');
          return;
        }
        req.on("data", (c: Buffer) => received.push(c));
        req.on("end", () => res.writeHead(204).end());
        return;
      }
      if (req.url === "/length") {
        res.writeHead(200, { "content-length": String(data.length) }).end(data);
        return;
      }
      // No length: Node's server sends it chunked, one chunk per write.
      res.writeHead(200);
      let at = 0;
      for (const n of [1, 65536, 3, 1_000_000, 200_000]) {
        res.write(data.subarray(at, at + n));
        at += n;
      }
      res.end(data.subarray(at));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("reads a Content-Length body and a chunked one into the caller's buffers, whatever their size", async () => {
    for (const path of ["/length", "/chunked"]) {
      for (const size of [1000, 100_003, 4 * MiB]) {
        const res = await exchange({ method: "GET", url: `${url}${path}` });
        expect(res.status).toBe(200);
        expect((await readAll(res, size)).equals(data)).toBe(true);
        expect(await res.readInto(Buffer.alloc(10))).toBe(0);
      }
    }
  });

  it("reads most of a Content-Length body straight into the reader's memory, not through its own buffer", async () => {
    const res = await exchange({ method: "GET", url: `${url}/length` });
    expect((await readAll(res, MiB)).equals(data)).toBe(true);
    // One read per reader's buffer may land in the connection's own buffer (asked before the reader was there).
    expect(res.copiedBytes).toBeLessThan(data.length / 4);
    const chunked = await exchange({ method: "GET", url: `${url}/chunked` });
    expect((await readAll(chunked, MiB)).equals(data)).toBe(true);
    expect(chunked.copiedBytes).toBe(data.length);
  });

  it("sends a body chunked, each chunk on the socket before the next is asked for", async () => {
    // One buffer for every chunk, overwritten as soon as the next is asked for.
    const reused = Buffer.alloc(256 * 1024);
    async function* body() {
      for (let at = 0; at < data.length; at += reused.length) {
        const n = data.copy(reused, 0, at, at + reused.length);
        yield reused.subarray(0, n);
        reused.fill(0xee);
      }
    }
    const res = await exchange({ method: "PUT", url: `${url}/sink`, body: body() });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(Buffer.concat(received).equals(data)).toBe(true);
  });

  it("stops sending when the server answers before the body's end", async () => {
    let asked = 0;
    let stopped = false;
    async function* body() {
      try {
        for (;;) {
          asked++;
          yield Buffer.alloc(MiB);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } finally {
        stopped = true;
      }
    }
    const res = await exchange({ method: "PUT", url: `${url}/early`, body: body() });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("too big");
    await vi.waitFor(() => expect(stopped).toBe(true), { timeout: 5000 });
    expect(asked).toBeLessThan(100);
  });

  it("fails a request whose body fails, with the body's error", async () => {
    async function* body() {
      yield Buffer.alloc(1000);
      throw new Error("the download broke for good");
    }
    await expect(exchange({ method: "PUT", url: `${url}/sink`, body: body() })).rejects.toThrow(
      "the download broke for good",
    );
  });

  it("hands out what arrived before a Content-Length body broke, then says where it broke", async () => {
    const raw = await rawServer((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
      socket.end(Buffer.alloc(300_000, 7));
    });
    try {
      const res = await exchange({ method: "GET", url: raw.url });
      let got = 0;
      const target = Buffer.alloc(128 * 1024);
      const err = await (async () => {
        for (;;) got += await res.readInto(target);
      })().catch((e: Error) => e);
      expect(got).toBe(300_000);
      expect(err.message).toMatch(/closed after 300000 body bytes, 700000 more announced/);
    } finally {
      await raw.close();
    }
  });

  it("speaks TLS to an https server (its certificate trusted through NODE_EXTRA_CA_CERTS, in a process of its own)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "icsdn-exchange-tls-"));
    const tls = createHttpsServer();
    try {
      await execa("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ]);
      tls.setSecureContext({
        key: readFileSync(join(dir, "key.pem")),
        cert: readFileSync(join(dir, "cert.pem")),
      });
      tls.on("request", (_req, res) =>
        res.writeHead(200, { "content-length": String(data.length) }).end(data),
      );
      await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
      const port = (tls.address() as AddressInfo).port;
      const script = `
        import { createHash } from "node:crypto";
        import { exchange } from ${JSON.stringify(new URL("../../mediation/clouds/openstack/http-exchange.ts", import.meta.url).pathname)};
        const res = await exchange({ method: "GET", url: "https://localhost:${port}/" });
        const hash = createHash("sha256");
        const target = Buffer.alloc(1 << 20);
        for (let n; (n = await res.readInto(target)) > 0; ) hash.update(target.subarray(0, n));
        console.log(res.status, hash.digest("hex"), res.copiedBytes < ${data.length} / 4);
      `;
      const out = await execa(process.execPath, ["--input-type=module", "-e", script], {
        env: { NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") },
      });
      expect(out.stdout.trim()).toBe(`200 ${createHash("sha256").update(data).digest("hex")} true`);
    } finally {
      tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails a chunked body cut inside a chunk, and a connection closed before any answer", async () => {
    const cut = await rawServer((socket) => {
      socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456");
    });
    const silent = await rawServer((socket) => socket.end());
    try {
      const res = await exchange({ method: "GET", url: cut.url });
      const target = Buffer.alloc(64);
      expect(await res.readInto(target)).toBe(7);
      await expect(res.readInto(target)).rejects.toThrow(/closed after 7 body bytes/);
      await expect(exchange({ method: "GET", url: silent.url })).rejects.toThrow(/closed before a response/);
    } finally {
      await cut.close();
      await silent.close();
    }
  });
});

describe("streamTransfer between two Glances over real sockets", () => {
  const glance = new GlanceServer();
  beforeAll(() => glance.start());
  afterAll(() => glance.close());

  it("resumes a download broken mid-body with a Range from the last byte taken; what lands is the source", async () => {
    const bytes = randomBytes(11 * MiB + 333);
    const sourceId = glance.addImage("src", bytes);
    const a = new OpenStackDriver(glance.cloud("a"));
    const b = new OpenStackDriver(glance.cloud("b"));
    const breakAt = 3 * MiB + 4097;
    glance.breakDownloadAt = breakAt;
    glance.requests.length = 0;
    const result = await streamTransfer({
      source: a,
      sourceImage: (await a.getImage(sourceId))!,
      target: b,
      chunkSize: 4 * MiB,
      newTargetImage: () =>
        b.createImage({ name: "copy", diskFormat: "raw", containerFormat: "bare", properties: {} }),
      discardTargetImage: (id) => b.deleteImage(id),
    });
    expect(glance.requests.filter((r) => r.startsWith(`GET /v2/images/${sourceId}/file`))).toEqual([
      `GET /v2/images/${sourceId}/file`,
      `GET /v2/images/${sourceId}/file bytes=${breakAt}-`,
    ]);
    expect(result.downloadResumes).toBe(1);
    expect(result.uploadAttempts).toBe(1);
    expect(glance.imageBytes(result.targetImageId)?.equals(bytes)).toBe(true);
    expect(result.manifest.imageHash.value).toBe(createHash("sha512").update(bytes).digest("hex"));
  });

  it("starts a failed upload over with a new target image, and the download from the start", async () => {
    const bytes = randomBytes(40 * MiB + 5);
    const sourceId = glance.addImage("src2", bytes);
    const a = new OpenStackDriver(glance.cloud("a"));
    const b = new OpenStackDriver(glance.cloud("b"));
    glance.failUploadAfter = 4 * MiB;
    glance.requests.length = 0;
    const discarded: string[] = [];
    const result = await streamTransfer({
      source: a,
      sourceImage: (await a.getImage(sourceId))!,
      target: b,
      chunkSize: 4 * MiB,
      newTargetImage: () =>
        b.createImage({ name: "copy", diskFormat: "raw", containerFormat: "bare", properties: {} }),
      discardTargetImage: async (id) => {
        discarded.push(id);
        await b.deleteImage(id);
      },
    });
    expect(result.uploadAttempts).toBe(2);
    expect(discarded).toHaveLength(1);
    expect(glance.requests.filter((r) => r.startsWith(`GET /v2/images/${sourceId}/file`))).toEqual([
      `GET /v2/images/${sourceId}/file`,
      `GET /v2/images/${sourceId}/file`,
    ]);
    expect(glance.imageBytes(result.targetImageId)?.equals(bytes)).toBe(true);
  });
});
