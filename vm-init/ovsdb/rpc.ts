import { VmInitError } from "../errors.ts";

/**
 * JSON-RPC 1.0 as OVSDB uses it (RFC 7047 section 4): a request is {method, params, id}, a
 * notification the same with id null, a response {result, error, id} with exactly one of result
 * and error non-null. Pure: text in, typed message out.
 */
export type RpcId = number | string;

export type RpcMessage =
  | { kind: "response"; id: RpcId; result: unknown; error: unknown }
  | { kind: "request"; id: RpcId; method: string; params: unknown[] }
  | { kind: "notification"; method: string; params: unknown[] };

export function encodeRequest(id: RpcId, method: string, params: readonly unknown[]): string {
  return JSON.stringify({ method, params, id });
}

export function encodeResponse(id: RpcId, result: unknown): string {
  return JSON.stringify({ result, error: null, id });
}

/** Parses one message text (as JsonSplitter cut it). Throws OVSDB_PROTOCOL_ERROR. */
export function parseMessage(text: string): RpcMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${err instanceof Error ? err.message : String(err)})`, text);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("not a JSON-RPC object", text);
  const m = v as Record<string, unknown>;
  const id = m.id;
  if (typeof m.method === "string") {
    const params = m.params;
    if (!Array.isArray(params)) throw bad(`"${m.method}" without a params array`, text);
    if (id === null || id === undefined) return { kind: "notification", method: m.method, params };
    if (!isId(id)) throw bad("a request id that is neither a number nor a string", text);
    return { kind: "request", id, method: m.method, params };
  }
  if ("result" in m || "error" in m) {
    if (!isId(id)) throw bad("a response id that is neither a number nor a string", text);
    return { kind: "response", id, result: m.result ?? null, error: m.error ?? null };
  }
  throw bad("neither a request nor a response", text);
}

/** OVSDB's error object ({error, details}) or any JSON, as one line for a message. */
export function describeRpcError(error: unknown): string {
  if (typeof error === "string") return error;
  if (typeof error === "object" && error !== null && !Array.isArray(error)) {
    const e = error as Record<string, unknown>;
    if (typeof e.error === "string") {
      return typeof e.details === "string" && e.details !== "" ? `${e.error}: ${e.details}` : e.error;
    }
  }
  return JSON.stringify(error);
}

function isId(v: unknown): v is RpcId {
  return typeof v === "number" || typeof v === "string";
}

function bad(what: string, text: string): VmInitError {
  const sample = text.length > 120 ? `${text.slice(0, 120)}...` : text;
  return new VmInitError("OVSDB_PROTOCOL_ERROR", `OVSDB sent ${what}: ${sample}`);
}
