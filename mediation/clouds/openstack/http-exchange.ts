import { isIP, connect as netConnect, type Socket } from "node:net";
import { Readable } from "node:stream";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { ResponseParser } from "./http-response-parser.ts";

export interface ExchangeRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  /**
   * Sent chunked. Each chunk is on the socket before the next one is asked for, so a producer may
   * reuse a chunk's memory once it is asked for the next.
   */
  readonly body?: AsyncIterable<Uint8Array>;
  /** No byte either way for this long fails the exchange (default 60 s). */
  readonly timeoutMs?: number;
}

/** What a socket read lands in: one buffer per connection, reused for every read. */
const READ_BUFFER = 128 * 1024;
/** A read goes straight into the reader's memory only when this much of it is free (and due). */
const DIRECT_MIN = 16 * 1024;

/**
 * One HTTP/1.1 request on a connection of its own (closed after the response), its response read
 * without a new buffer per socket read (net's `onread`): a Content-Length body is read straight
 * into the memory `readInto` was given, anything else into one buffer per connection and copied
 * from there. Node's HTTP client allocates each read afresh, and moving a gigabyte that way made
 * V8 run a full collection every few dozen megabytes (mediation/README.md, Figures).
 */
export function exchange(req: ExchangeRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    new HttpResponse(req, resolve, reject);
  });
}

interface Want {
  readonly target: Buffer;
  filled: number;
  readonly resolve: (n: number) => void;
  readonly reject: (err: Error) => void;
}

/** The answer of `exchange` (made only there): status, headers, and the body read on demand. */
export class HttpResponse {
  status = 0;
  headers: Readonly<Record<string, string>> = {};
  readonly #req: ExchangeRequest;
  readonly #parser: ResponseParser;
  readonly #pool = Buffer.allocUnsafe(READ_BUFFER);
  #socket: Socket | undefined;
  #onHead: ((r: HttpResponse) => void) | undefined;
  #onHeadFailed: ((err: Error) => void) | undefined;
  /** Bytes of the pool not yet parsed (the socket is paused meanwhile). */
  #stash: { at: number; end: number } | undefined;
  #want: Want | undefined;
  #bodyBytes = 0;
  #copiedBytes = 0;
  #ended = false;
  /** The peer closed; bytes still stashed are read before that counts. */
  #eof = false;
  #error: Error | undefined;

  constructor(req: ExchangeRequest, onHead: (r: HttpResponse) => void, onHeadFailed: (err: Error) => void) {
    this.#req = req;
    this.#parser = new ResponseParser(req.method === "HEAD");
    this.#onHead = onHead;
    this.#onHeadFailed = onHeadFailed;
    this.#start();
  }

  /** Fills `target` with body bytes; fewer only at the body's end or when the connection broke (the next call throws); 0 after the end. */
  readInto(target: Buffer): Promise<number> {
    if (this.#want) return Promise.reject(new Error("a read is already waiting"));
    if (target.length === 0) return Promise.resolve(0);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(0);
    return new Promise<number>((resolve, reject) => {
      this.#want = { target, filled: 0, resolve, reject };
      const stash = this.#stash;
      this.#stash = undefined;
      if (stash && !this.#take(this.#pool, stash.at, stash.end)) return;
      if (this.#eof) this.#finish();
      else this.#socket?.resume();
    });
  }

  /** Body bytes that landed in the pool and were copied out (the rest was read in place). */
  get copiedBytes(): number {
    return this.#copiedBytes;
  }

  /** The body as text (an error's explanation), at most `limit` bytes of it kept. */
  async text(limit = 1 << 20): Promise<string> {
    const parts: Buffer[] = [];
    let kept = 0;
    for (;;) {
      const part = Buffer.allocUnsafe(64 * 1024);
      const n = await this.readInto(part);
      if (n === 0) break;
      if (kept < limit) parts.push(part.subarray(0, Math.min(n, limit - kept)));
      kept += n;
    }
    return Buffer.concat(parts).toString("utf8");
  }

  /** The body as a Readable of fresh buffers, for code that wants a stream (not the transfer's hot path). */
  toReadable(): Readable {
    const response = this;
    return new Readable({
      read() {
        const part = Buffer.allocUnsafe(READ_BUFFER);
        response.readInto(part).then(
          (n) => this.push(n === 0 ? null : part.subarray(0, n)),
          (err: Error) => this.destroy(err),
        );
      },
      destroy(err, done) {
        response.destroy();
        done(err);
      },
    });
  }

  /** Drops the connection (idempotent); a waiting read fails. */
  destroy(err?: Error): void {
    this.#fail(err ?? new Error("the response was dropped"));
  }

  /** Connects and sends the request; the answer comes to the constructor's callbacks. */
  #start(): void {
    const url = new URL(this.#req.url);
    const tls = url.protocol === "https:";
    const onread = {
      buffer: () => this.#readBuffer(),
      callback: (n: number, buf: Buffer) => this.#take(buf, 0, n),
    };
    const port = Number(url.port || (tls ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, "");
    // tls.connect takes `onread` as net.connect does; @types/node does not list it there.
    const tlsOptions = { host, port, onread, ...(isIP(host) === 0 && { servername: host }) };
    const socket = tls ? tlsConnect(tlsOptions as ConnectionOptions) : netConnect({ host, port, onread });
    this.#socket = socket;
    const timeoutMs = this.#req.timeoutMs ?? 60_000;
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no data for ${timeoutMs} ms`)));
    socket.on("error", (err) => this.#fail(err));
    socket.on("end", () => this.#closed());
    socket.on("close", () => this.#closed());
    // With a body, the connection is not announced as closing: a server that answers before the
    // body's end (an error) then reads the rest instead of closing under the writes (EPIPE before
    // its answer was read). Either way this side closes it once the response is read.
    const headers: Record<string, string> = {
      host: url.host,
      ...this.#req.headers,
      ...(this.#req.body === undefined && { connection: "close" }),
    };
    if (this.#req.body) headers["transfer-encoding"] = "chunked";
    else if (!/^(GET|HEAD|DELETE)$/.test(this.#req.method)) headers["content-length"] = "0";
    let head = `${this.#req.method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    socket.write(`${head}\r\n`, "latin1");
    if (this.#req.body) this.#send(socket, this.#req.body).catch((err: Error) => this.#fail(err));
  }

  async #send(socket: Socket, body: AsyncIterable<Uint8Array>): Promise<void> {
    const written = (data: Uint8Array | string) =>
      new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
    for await (const chunk of body) {
      // The server answered (an error, most likely) or the exchange failed: stop sending.
      if (this.status !== 0 || this.#error) return;
      if (chunk.length === 0) continue;
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
      const done = written(chunk);
      socket.write("\r\n", "latin1");
      socket.uncork();
      await done;
    }
    if (this.status === 0 && !this.#error) await written("0\r\n\r\n");
  }

  /**
   * Where the socket's next read lands (asked after every read): straight into a waiting reader's
   * memory while the body has a length (no copy at all), else the pool (what lands there is
   * copied out, and kept there while the socket is paused).
   */
  #readBuffer(): Buffer {
    const want = this.#want;
    if (want && this.#stash === undefined && want.target.length - want.filled >= DIRECT_MIN) {
      const left = this.#parser.bodyLeft;
      if (left !== undefined && left >= DIRECT_MIN) return want.target.subarray(want.filled);
    }
    return this.#pool;
  }

  #take(buf: Buffer, at: number, end: number): boolean {
    const parser = this.#parser;
    try {
      while (at < end && !this.#error) {
        at = parser.skip(buf, at, end);
        if (this.#onHead && parser.head) this.#headArrived();
        if (parser.done) break;
        const n = parser.body(at, end);
        if (n === 0) continue;
        const want = this.#want;
        if (!want) {
          this.#stash = { at, end };
          return false;
        }
        const k = Math.min(n, want.target.length - want.filled);
        // A read that landed where it belongs (#readBuffer) is not copied.
        if (
          buf.buffer !== want.target.buffer ||
          buf.byteOffset + at !== want.target.byteOffset + want.filled
        ) {
          buf.copy(want.target, want.filled, at, at + k);
          this.#copiedBytes += k;
        }
        want.filled += k;
        this.#bodyBytes += k;
        parser.took(k);
        at += k;
        if (want.filled === want.target.length) {
          this.#want = undefined;
          want.resolve(want.filled);
        }
      }
      if (parser.done) this.#end();
      return !this.#error && !parser.done;
    } catch (err) {
      this.#fail(new Error(`a bad HTTP response: ${(err as Error).message}`));
      return false;
    }
  }

  #headArrived(): void {
    const head = this.#parser.head!;
    this.status = head.status;
    this.headers = head.headers;
    const onHead = this.#onHead!;
    this.#onHead = undefined;
    this.#onHeadFailed = undefined;
    onHead(this);
  }

  /** The whole body was read: a waiting read gets what it has, later ones 0. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const want = this.#want;
    this.#want = undefined;
    want?.resolve(want.filled);
    this.#socket?.destroy();
  }

  #closed(): void {
    this.#eof = true;
    if (this.#stash === undefined) this.#finish();
  }

  /** After the peer closed and every byte before that was taken: the end, or a body cut short. */
  #finish(): void {
    if (this.#ended || this.#error) return;
    this.#parser.closed();
    if (this.#parser.done) {
      this.#end();
      return;
    }
    const left = this.#parser.bodyLeft;
    this.#fail(
      new Error(
        this.#parser.head === undefined
          ? "the connection closed before a response"
          : `the connection closed after ${this.#bodyBytes} body bytes${left === undefined ? "" : `, ${left} more announced`}`,
      ),
    );
  }

  #fail(err: Error): void {
    if (this.#error || this.#ended) return;
    this.#error = err;
    this.#socket?.destroy();
    this.#onHeadFailed?.(err);
    this.#onHead = undefined;
    this.#onHeadFailed = undefined;
    const want = this.#want;
    this.#want = undefined;
    // What arrived before the break is handed out; the next read throws.
    if (want && want.filled > 0) want.resolve(want.filled);
    else want?.reject(err);
  }
}
