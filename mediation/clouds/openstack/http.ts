import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { MediationError } from "../../errors.ts";

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** A JSON body (image bytes go through http-exchange.ts). */
  readonly json?: unknown;
  readonly timeoutMs?: number;
}

/** Sends a request and resolves with the response head; the body is left unread. */
export function send(req: HttpRequest): Promise<IncomingMessage> {
  const url = new URL(req.url);
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  let body: string | undefined;
  if (req.json !== undefined) {
    body = JSON.stringify(req.json);
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  const make = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const r = make(url, { method: req.method, headers, timeout: req.timeoutMs ?? 60_000 }, resolve);
    r.on("timeout", () => r.destroy(new Error(`no answer within ${req.timeoutMs ?? 60_000} ms`)));
    r.on("error", reject);
    r.end(body);
  });
}

export async function readText(res: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The message of an OpenStack error body (they nest it differently per service), short. */
export function errorMessage(text: string): string {
  try {
    const doc = JSON.parse(text) as Record<string, unknown>;
    const inner = Object.values(doc).find((v) => typeof v === "object" && v !== null) as
      | Record<string, unknown>
      | undefined;
    const msg = inner?.message ?? doc.message ?? doc.title ?? doc.NeutronError;
    if (typeof msg === "string") return msg.slice(0, 300);
  } catch {
    // Not JSON: Glance answers some errors in HTML.
  }
  return text
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 300);
}

/** Throws a CLOUD_API error naming the call unless the status is one of `ok`. */
export async function expectStatus(res: IncomingMessage, ok: readonly number[], what: string): Promise<void> {
  if (ok.includes(res.statusCode ?? 0)) return;
  const text = await readText(res, 64 * 1024);
  throw new MediationError("CLOUD_API", `${what}: HTTP ${res.statusCode}: ${errorMessage(text)}`, {
    details: { status: res.statusCode },
  });
}
