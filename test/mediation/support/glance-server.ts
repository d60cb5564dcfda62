import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CloudConfig } from "../../../mediation/clouds/clouds-yaml.ts";

interface StoredImage {
  name: string;
  status: string;
  diskFormat: string;
  bytes: Buffer | undefined;
  sha512: string | undefined;
}

/**
 * A real HTTP server playing Keystone (a token whose catalog points here) and Glance v2's image
 * calls the transfer makes: create, show, download (Range answered 206), a chunked upload (the
 * image's sha512 taken as Glance does), delete. `breakDownloadAt` cuts the next download's
 * connection after that many body bytes; `requests` lists what was asked, Range included.
 */
export class GlanceServer {
  readonly #server: Server;
  readonly #images = new Map<string, StoredImage>();
  readonly requests: string[] = [];
  breakDownloadAt: number | undefined;
  /** The next upload is answered 500 once this many bytes arrived. */
  failUploadAfter: number | undefined;
  /** Body bytes per write of a download (what the socket reads then come in). */
  writeSize = 256 * 1024;

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(JSON.stringify({ message: (err as Error).message }));
      });
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** A cloud of this server for OpenStackDriver. */
  cloud(name: string): CloudConfig {
    return passwordCloud(name, this.url);
  }

  /** An active image holding `bytes`; its id. */
  addImage(name: string, bytes: Buffer): string {
    const id = randomUUID();
    const sha512 = createHash("sha512").update(bytes).digest("hex");
    this.#images.set(id, { name, status: "active", diskFormat: "raw", bytes, sha512 });
    return id;
  }

  imageBytes(id: string): Buffer | undefined {
    return this.#images.get(id)?.bytes;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "").split("?")[0]!;
    this.requests.push(`${req.method} ${path}${req.headers.range ? ` ${req.headers.range}` : ""}`);
    const json = (status: number, doc: unknown) => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(doc));
    };
    if (req.method === "POST" && path === "/v3/auth/tokens") {
      req.resume();
      res.writeHead(201, { "content-type": "application/json", "x-subject-token": "t" });
      const catalog = [{ type: "image", endpoints: [{ interface: "public", url: this.url }] }];
      const expires = new Date(Date.now() + 3_600_000).toISOString();
      res.end(JSON.stringify({ token: { expires_at: expires, catalog } }));
      return;
    }
    if (req.method === "POST" && path === "/v2/images") {
      const doc = JSON.parse(Buffer.concat(await req.toArray()).toString()) as Record<string, string>;
      const id = randomUUID();
      this.#images.set(id, {
        name: doc.name ?? "",
        status: "queued",
        diskFormat: doc.disk_format ?? "raw",
        bytes: undefined,
        sha512: undefined,
      });
      return json(201, { id, name: doc.name, status: "queued" });
    }
    const m = /^\/v2\/images\/([^/]+)(\/file)?$/.exec(path);
    const image = m && this.#images.get(decodeURIComponent(m[1]!));
    if (!m || !image) {
      req.resume();
      return json(404, { message: "no such image" });
    }
    const id = decodeURIComponent(m[1]!);
    if (req.method === "GET" && !m[2]) {
      return json(200, {
        id,
        name: image.name,
        status: image.status,
        size: image.bytes?.length ?? null,
        disk_format: image.diskFormat,
        container_format: "bare",
        os_hash_algo: image.sha512 && "sha512",
        os_hash_value: image.sha512 ?? null,
        checksum: null,
      });
    }
    if (req.method === "DELETE" && !m[2]) {
      this.#images.delete(id);
      res.writeHead(204).end();
      return;
    }
    if (req.method === "PUT" && m[2]) {
      const hash = createHash("sha512");
      const parts: Buffer[] = [];
      const failAt = this.failUploadAfter;
      this.failUploadAfter = undefined;
      let seen = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        hash.update(chunk);
        parts.push(chunk);
        seen += chunk.length;
        if (failAt !== undefined && seen >= failAt) {
          Object.assign(image, { status: "killed" });
          // The head first, the explanation a little later (what the client does meanwhile counts).
          res.writeHead(500, { "content-type": "application/json", connection: "close" }).flushHeaders();
          await new Promise((resolve) => setTimeout(resolve, 50));
          res.end(JSON.stringify({ message: "injected upload failure" }), () => req.destroy());
          return;
        }
      }
      Object.assign(image, { bytes: Buffer.concat(parts), sha512: hash.digest("hex"), status: "active" });
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET" && m[2] && image.bytes) {
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const from = range ? Number(range[1]) : 0;
      const body = image.bytes.subarray(from);
      res.writeHead(range ? 206 : 200, {
        "content-type": "application/octet-stream",
        "content-length": String(body.length),
        ...(range && { "content-range": `bytes ${from}-${image.bytes.length - 1}/${image.bytes.length}` }),
      });
      const cut = this.breakDownloadAt;
      this.breakDownloadAt = undefined;
      const end = cut === undefined ? body.length : Math.min(cut, body.length);
      for (let at = 0; at < end; at += this.writeSize) {
        const piece = body.subarray(at, Math.min(at + this.writeSize, end));
        // Before a cut, every byte is flushed first: the client gets exactly `cut` bytes.
        if (cut !== undefined) await new Promise((resolve) => res.write(piece, resolve));
        else if (!res.write(piece)) await new Promise((resolve) => res.once("drain", resolve));
      }
      if (cut === undefined) res.end();
      else res.socket?.destroy();
      return;
    }
    req.resume();
    json(405, { message: "not here" });
  }
}

/** A password-authenticated cloud whose Keystone is at `authUrl` (a test server's), for OpenStackDriver. */
export function passwordCloud(name: string, authUrl: string): CloudConfig {
  return {
    name,
    auth: {
      type: "password",
      authUrl,
      username: "u",
      password: "p",
      userDomain: { name: "Default" },
      project: { name: "p", domain: { name: "Default" } },
    },
    region: undefined,
    interface: "public",
    flavorMap: {},
    diskFormats: undefined,
    externalNetwork: undefined,
    endpointOverrides: {},
  };
}
