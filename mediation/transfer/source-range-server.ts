import { createHash, type Hash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { CloudDriver, ImageInfo } from "../clouds/cloud-driver.ts";
import { MediationError } from "../errors.ts";
import type { ManifestBuilder } from "./manifest.ts";

/** How the reads of the source went: how much of the image the in-order hash saw, and how. */
export interface SourceReadStats {
  /** Bytes read in order from byte 0 while the converter read (hashed on the way). */
  readonly inOrderBytes: number;
  /** Bytes the hash read after the converter finished, to cover what it skipped or read out of order. */
  readonly tailBytes: number;
  /** Bytes the converter read ahead of the in-order hash: each range compared with the same bytes hashed in order. */
  readonly aheadBytes: number;
  /** Bytes the converter read again behind the in-order hash (qcow2 metadata): not compared. */
  readonly rereadBytes: number;
  readonly requests: number;
  /** Glance GETs opened: one per jump in the converter's reads, plus resumes. */
  readonly upstreamGets: number;
  readonly resumes: number;
}

export interface SourceRangeServerOptions {
  readonly source: CloudDriver;
  readonly image: ImageInfo & { readonly size: number };
  /** Fed every byte of the image once, in order: the source's hash and manifest. */
  readonly hash: ManifestBuilder;
  readonly maxResumes: number;
  /** Called with the bytes served so far, as they grow. */
  readonly onRead?: (servedBytes: number) => void;
}

/**
 * Serves the source image over HTTP Range requests on a Unix socket, for nbdkit's curl plugin (so
 * qemu-img reads the image at random without staging it, as virt-v2v does over Glance). Each
 * request is read from the source Glance through the driver, which holds the token: nbdkit sees
 * no secret. Reads that continue where the last one ended reuse one open GET; a GET that breaks is
 * resumed with a Range. Bytes that pass in order from byte 0 are hashed on the way; `verifyRest`
 * hashes whatever the converter did not read in order, so the source's hash always covers the
 * whole image.
 */
export class SourceRangeServer {
  readonly #o: SourceRangeServerOptions;
  readonly #server: Server;
  #queue: Promise<unknown> = Promise.resolve();
  #body: AsyncIterator<Buffer> | undefined;
  #at = -1;
  #leftover: Buffer | undefined;
  /** The last piece read: what a read that starts a little behind the open GET reads again. */
  #last: Buffer = Buffer.alloc(0);
  #served = 0;
  #stats = {
    inOrderBytes: 0,
    tailBytes: 0,
    aheadBytes: 0,
    rereadBytes: 0,
    requests: 0,
    upstreamGets: 0,
    resumes: 0,
  };
  /** Ranges read ahead of the in-order hash, with their SHA-256, until the in-order bytes reach them. */
  #ahead: { start: number; end: number; sha256: string; check: Hash }[] = [];
  #mismatch: string | undefined;
  #failure: Error | undefined;
  #verifying = false;

  private constructor(o: SourceRangeServerOptions) {
    this.#o = o;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#failure ??= err instanceof Error ? err : new Error(String(err));
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(err instanceof Error ? err.message : String(err));
      });
    });
  }

  static async listen(socketPath: string, o: SourceRangeServerOptions): Promise<SourceRangeServer> {
    const s = new SourceRangeServer(o);
    await new Promise<void>((resolve, reject) => {
      s.#server.once("error", reject);
      s.#server.listen(socketPath, () => resolve());
    });
    return s;
  }

  get stats(): SourceReadStats {
    return { ...this.#stats };
  }

  /** The first read that failed (the source cloud's error): what made the converter fail, if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** A range the converter read that differs from the same bytes read in order, if any. */
  get mismatch(): string | undefined {
    return this.#mismatch;
  }

  /** Reads and hashes the image from the end of the in-order hash to the end of the image. */
  async verifyRest(): Promise<void> {
    await this.#serialized(async () => {
      this.#verifying = true;
      const end = this.#o.image.size;
      while (this.#o.hash.size < end) {
        const from = this.#o.hash.size;
        await this.#read(from, Math.min(8 << 20, end - from), () => undefined);
      }
    });
  }

  async close(): Promise<void> {
    await this.#closeBody();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const size = this.#o.image.size;
    if (req.method === "HEAD") {
      res.writeHead(200, { "content-length": size, "accept-ranges": "bytes" });
      res.end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (req.method !== "GET" || !range) {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("only HEAD and ranged GET");
      return;
    }
    const start = Number(range[1]);
    // curl's ranges are inclusive; nbdkit asks one byte past its request, which we clamp at the end.
    const last = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
    if (start > last) {
      res.writeHead(416, { "content-range": `bytes */${size}` });
      res.end();
      return;
    }
    this.#stats.requests++;
    const pieces: Buffer[] = [];
    await this.#serialized(() => this.#read(start, last - start + 1, (b) => pieces.push(b)));
    res.writeHead(206, {
      "content-length": last - start + 1,
      "content-range": `bytes ${start}-${last}/${size}`,
    });
    res.end(Buffer.concat(pieces));
  }

  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Exactly `length` bytes from `start` (the image is long enough: checked by the caller). */
  async #read(start: number, length: number, sink: (b: Buffer) => void): Promise<void> {
    let want = length;
    // nbdkit 1.32's curl plugin asks one byte past each read, so the next read starts one byte
    // behind the open GET: that byte comes from the last piece, and the GET goes on.
    const back = this.#at - start;
    if (back > 0 && back <= this.#last.length && back < want) {
      const again = this.#last.subarray(this.#last.length - back);
      this.#hashInOrder(start, again);
      sink(again);
      want -= back;
    } else if (this.#at !== start) {
      await this.#open(start);
    }
    while (want > 0) {
      let piece = this.#leftover;
      this.#leftover = undefined;
      if (!piece) {
        try {
          const next = await this.#body!.next();
          if (next.done) throw new Error(`the download ended at byte ${this.#at}`);
          piece = next.value;
        } catch (err) {
          if (err instanceof MediationError) throw err;
          if (this.#stats.resumes >= this.#o.maxResumes) {
            throw new MediationError(
              "CLOUD_API",
              `download from cloud '${this.#o.source.name}' broke ${this.#stats.resumes + 1} times; last at byte ${this.#at}: ${(err as Error).message}`,
              { cause: err },
            );
          }
          this.#stats.resumes++;
          await this.#open(this.#at);
          continue;
        }
      }
      if (piece.length > want) {
        this.#leftover = piece.subarray(want);
        piece = piece.subarray(0, want);
      }
      this.#hashInOrder(this.#at, piece);
      sink(piece);
      this.#last = piece;
      this.#at += piece.length;
      want -= piece.length;
      if (!this.#verifying) {
        this.#served += piece.length;
        this.#o.onRead?.(this.#served);
      }
    }
  }

  #hashInOrder(at: number, piece: Buffer): void {
    const hashed = this.#o.hash.size;
    const end = at + piece.length;
    if (at <= hashed && hashed < end) {
      const fresh = piece.subarray(hashed - at);
      this.#o.hash.update(fresh);
      this.#checkAhead(hashed, fresh);
      if (this.#verifying) this.#stats.tailBytes += fresh.length;
      else this.#stats.inOrderBytes += fresh.length;
      this.#stats.rereadBytes += piece.length - fresh.length;
    } else if (at > hashed) {
      this.#ahead.push({
        start: at,
        end,
        sha256: createHash("sha256").update(piece).digest("hex"),
        check: createHash("sha256"),
      });
      this.#stats.aheadBytes += piece.length;
    } else {
      this.#stats.rereadBytes += piece.length;
    }
  }

  /** Feeds in-order bytes [at, at + length) to the ranges read ahead, comparing each one it completes. */
  #checkAhead(at: number, fresh: Buffer): void {
    const end = at + fresh.length;
    this.#ahead = this.#ahead.filter((r) => {
      if (r.end <= at || r.start >= end) return true;
      r.check.update(fresh.subarray(Math.max(r.start, at) - at, Math.min(r.end, end) - at));
      if (r.end > end) return true;
      if (r.check.digest("hex") !== r.sha256) {
        this.#mismatch ??= `cloud '${this.#o.source.name}' image ${this.#o.image.id}: bytes ${r.start}-${r.end - 1} read for qemu-img differ from the same bytes read in order`;
      }
      return false;
    });
  }

  async #open(start: number): Promise<void> {
    await this.#closeBody();
    this.#stats.upstreamGets++;
    const body = await this.#o.source.downloadImage(this.#o.image.id, start);
    this.#body = (body.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.#at = start;
  }

  async #closeBody(): Promise<void> {
    const body = this.#body;
    this.#body = undefined;
    this.#leftover = undefined;
    this.#last = Buffer.alloc(0);
    this.#at = -1;
    await body?.return?.();
  }
}
