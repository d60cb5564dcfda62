import type { FastifyInstance } from "fastify";

/** The part of an OpenAPI 3 document the route walkers read. */
export interface OpenApiDoc {
  security?: unknown[];
  paths: Record<string, Record<string, OpenApiOperation>>;
}

export interface OpenApiOperation {
  security?: unknown[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

export interface JsonSchema {
  type?: string | string[];
  format?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
}

export const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** One route of the document: `METHOD /path` with OpenAPI's `{param}` placeholders. */
export interface DocRoute {
  readonly method: string;
  readonly path: string;
  readonly operation: OpenApiOperation;
}

/** The app's own OpenAPI document, as a client fetches it. */
export async function openApiOf(app: FastifyInstance, url = "/openapi.json"): Promise<OpenApiDoc> {
  const res = await app.inject({ method: "GET", url });
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}`);
  return JSON.parse(res.body) as OpenApiDoc;
}

/** Every path and method in the document. */
export function routesOf(doc: OpenApiDoc): DocRoute[] {
  const routes: DocRoute[] = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation) routes.push({ method: method.toUpperCase(), path, operation });
    }
  return routes;
}

/** `/clusters/{clusterId}` -> `/clusters/<value>`, every placeholder filled with `value`. */
export function fillPath(path: string, value: string): string {
  return path.replace(/\{[^}]+\}/g, value);
}

export const routeName = (r: { method: string; path: string }): string => `${r.method} ${r.path}`;
