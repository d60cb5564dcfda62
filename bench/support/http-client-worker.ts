import { parentPort } from "node:worker_threads";

// The worker side of http-client.ts: each message is one request, answered with its time or its
// failure.

export interface ClientRequest {
  readonly id: number;
  readonly base: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

export type ClientAnswer =
  | { readonly id: number; readonly ms: number }
  | { readonly id: number; readonly error: string };

/**
 * Milliseconds the request took: its round trip, or for a rebind the controller's own totalMs from
 * its history record (the answer comes at update time; cleanup follows it, then the downtime
 * probes' tail, which is no work; see cluster-service.ts).
 */
async function call({ base, method, path, body }: ClientRequest): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined && {
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  if (!path.endsWith("/rebind")) return ms;
  const { rebindId } = JSON.parse(text) as { rebindId: number };
  const record = await fetch(`${base}${path}s/${rebindId}?settled=true`);
  return ((await record.json()) as { totalMs: number }).totalMs;
}

parentPort!.on("message", (request: ClientRequest) => {
  call(request).then(
    (ms) => parentPort!.postMessage({ id: request.id, ms } satisfies ClientAnswer),
    (err: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        error: err instanceof Error ? err.message : String(err),
      } satisfies ClientAnswer),
  );
});
