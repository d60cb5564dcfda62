/** A response's status line and headers (names lower-cased; a repeated header's values joined by ", "). */
export interface ResponseHead {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

const MAX_HEAD_LINES = 200;
const MAX_LINE = 16 * 1024;

type Framing =
  | { kind: "head" }
  | { kind: "length"; left: number }
  | { kind: "until-close" }
  | { kind: "chunk-size" }
  | { kind: "chunk"; left: number }
  | { kind: "chunk-end" }
  | { kind: "trailers" }
  | { kind: "done" };

/**
 * The framing of one HTTP/1.1 response, fed the socket's bytes in place (nothing is copied but the
 * head and the chunk-size lines): `skip` consumes what is not body, `body` says how many of the
 * bytes that follow are body, `took` counts those the caller used. Content-Length, chunked and
 * read-until-close bodies; 1xx heads are skipped. Throws on what it cannot parse.
 */
export class ResponseParser {
  readonly #noBody: boolean;
  #framing: Framing = { kind: "head" };
  #line = "";
  #headLines: string[] = [];
  #head: ResponseHead | undefined;

  /** `noBody`: the request was a HEAD (its response's Content-Length announces no bytes). */
  constructor(noBody = false) {
    this.#noBody = noBody;
  }

  get head(): ResponseHead | undefined {
    return this.#head;
  }

  get done(): boolean {
    return this.#framing.kind === "done";
  }

  /** The body lasts until the connection closes (neither a length nor chunked). */
  get untilClose(): boolean {
    return this.#framing.kind === "until-close";
  }

  /** Body bytes still announced: Content-Length's rest, undefined when not known. */
  get bodyLeft(): number | undefined {
    return this.#framing.kind === "length" ? this.#framing.left : undefined;
  }

  /** Consumes head and framing bytes from `at`; returns where body bytes (or the end) start. */
  skip(buf: Buffer, at: number, end: number): number {
    for (;;) {
      const f = this.#framing;
      if (at >= end) return at;
      switch (f.kind) {
        case "head":
          at = this.#readHead(buf, at, end);
          break;
        case "chunk-size": {
          const [line, next] = this.#readLine(buf, at, end);
          at = next;
          if (line === undefined) return at;
          const hex = line.split(";")[0]!.trim();
          const size = Number.parseInt(hex, 16);
          if (!/^[0-9a-fA-F]+$/.test(hex) || !Number.isSafeInteger(size))
            throw new Error(`bad chunk size line '${line.slice(0, 40)}'`);
          this.#framing = size === 0 ? { kind: "trailers" } : { kind: "chunk", left: size };
          break;
        }
        case "chunk-end": {
          const [line, next] = this.#readLine(buf, at, end);
          at = next;
          if (line === undefined) return at;
          if (line !== "") throw new Error("a chunk is longer than its size line says");
          this.#framing = { kind: "chunk-size" };
          break;
        }
        case "trailers": {
          const [line, next] = this.#readLine(buf, at, end);
          at = next;
          if (line === undefined) return at;
          if (line === "") this.#framing = { kind: "done" };
          break;
        }
        default:
          return at;
      }
      if (this.#framing.kind === "done") return at;
    }
  }

  /** How many bytes from `at` (up to `end`) are body. */
  body(at: number, end: number): number {
    const f = this.#framing;
    if (f.kind === "length" || f.kind === "chunk") return Math.min(f.left, end - at);
    return f.kind === "until-close" ? end - at : 0;
  }

  /** The caller used `n` body bytes. */
  took(n: number): void {
    const f = this.#framing;
    if (n === 0 || f.kind === "until-close") return;
    if (f.kind !== "length" && f.kind !== "chunk") throw new Error("no body bytes are due here");
    f.left -= n;
    if (f.left > 0) return;
    this.#framing = f.kind === "length" ? { kind: "done" } : { kind: "chunk-end" };
  }

  /** The connection ended: a body that lasts until then is complete; anything else is cut short. */
  closed(): void {
    if (this.#framing.kind === "until-close") this.#framing = { kind: "done" };
  }

  #readHead(buf: Buffer, at: number, end: number): number {
    const [line, next] = this.#readLine(buf, at, end);
    if (line === undefined || (line === "" && this.#headLines.length === 0)) return next;
    if (line !== "") {
      if (this.#headLines.push(line) > MAX_HEAD_LINES)
        throw new Error(`a response head of more than ${MAX_HEAD_LINES} lines`);
      return next;
    }
    const lines = this.#headLines;
    this.#headLines = [];
    this.#startBody(parseHead(lines));
    return next;
  }

  #startBody(head: ResponseHead): void {
    if (head.status < 200) return; // 100 Continue and the like: the real head follows
    this.#head = head;
    const te = head.headers["transfer-encoding"]?.toLowerCase();
    const length = head.headers["content-length"];
    if (this.#noBody || head.status === 204 || head.status === 304) this.#framing = { kind: "done" };
    else if (te !== undefined && te.split(",").at(-1)!.trim() === "chunked")
      this.#framing = { kind: "chunk-size" };
    else if (length !== undefined) {
      if (!/^\d+$/.test(length.trim())) throw new Error(`bad Content-Length '${length}'`);
      const left = Number(length);
      this.#framing = left === 0 ? { kind: "done" } : { kind: "length", left };
    } else this.#framing = { kind: "until-close" };
  }

  /** A CRLF-ended line (the CR optional), or undefined when it goes on in the next bytes. */
  #readLine(buf: Buffer, at: number, end: number): [string | undefined, number] {
    const nl = buf.indexOf(10, at);
    const stop = nl < 0 || nl >= end ? end : nl;
    this.#line += buf.toString("latin1", at, stop);
    if (this.#line.length > MAX_LINE)
      throw new Error(`a head or chunk framing line longer than ${MAX_LINE} bytes`);
    if (stop === end) return [undefined, end];
    const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
    this.#line = "";
    return [line, stop + 1];
  }
}

function parseHead(lines: readonly string[]): ResponseHead {
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
  if (!status) throw new Error(`not an HTTP/1.x status line: '${lines[0]!.slice(0, 60)}'`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad header line '${line.slice(0, 60)}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(status[1]), headers };
}
