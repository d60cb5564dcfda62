import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Faults a FaultProxy injects, each once, into image data (`.../file`) requests. */
export interface Faults {
  /** Close the connection of a download after this many body bytes. */
  cutDownloadAfter?: number;
  /** Flip the bits of the download body byte at this offset (of the first response). */
  corruptDownloadAt?: number;
  /** Answer 500 to an upload once this many body bytes arrived (a number of times). */
  failUploadAfter?: { bytes: number; times: number };
}

/**
 * A real HTTP reverse proxy in front of one OpenStack service, pointed at through clouds.yaml's
 * `<type>_endpoint_override`, that breaks image transfers the way networks and servers do.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #upstream: URL;
  faults: Faults = {};
  /** Range headers the service saw on downloads, in order. */
  readonly ranges: (string | undefined)[] = [];
  uploadsFailed = 0;

  private constructor(upstream: string) {
    this.#upstream = new URL(upstream);
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  static async start(upstream: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(upstream);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: import("node:http").ServerResponse): void {
    const isFile = /\/file$/.test(req.url ?? "");
    if (isFile && req.method === "GET") this.ranges.push(req.headers.range);
    const up = request(
      new URL(req.url ?? "/", this.#upstream),
      { method: req.method, headers: { ...req.headers, host: this.#upstream.host } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!(isFile && req.method === "GET")) {
          upRes.pipe(res);
          return;
        }
        const cut = this.faults.cutDownloadAfter;
        const corrupt = this.faults.corruptDownloadAt;
        let seen = 0;
        upRes.on("data", (chunk: Buffer) => {
          if (corrupt !== undefined && corrupt >= seen && corrupt < seen + chunk.length) {
            chunk[corrupt - seen]! ^= 0xff;
            this.faults.corruptDownloadAt = undefined;
          }
          if (cut !== undefined && seen + chunk.length >= cut) {
            this.faults.cutDownloadAfter = undefined;
            upRes.destroy();
            // The bytes before the cut arrive whole; then the connection dies mid-body.
            res.write(chunk.subarray(0, cut - seen), () => setTimeout(() => res.destroy(), 50));
            return;
          }
          seen += chunk.length;
          if (!res.write(chunk)) {
            upRes.pause();
            res.once("drain", () => upRes.resume());
          }
        });
        upRes.on("end", () => res.end());
      },
    );
    up.on("error", () => res.destroy());
    const fail = this.faults.failUploadAfter;
    if (isFile && req.method === "PUT" && fail && fail.times > 0) {
      let seen = 0;
      req.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= fail.bytes && !res.headersSent) {
          fail.times--;
          this.uploadsFailed++;
          up.destroy();
          res.writeHead(500, { "content-type": "application/json", connection: "close" });
          res.end(JSON.stringify({ message: "injected upload failure" }));
          req.destroy();
        } else if (!res.headersSent) {
          up.write(chunk);
        }
      });
      req.on("end", () => up.end());
      return;
    }
    req.pipe(up);
  }
}
