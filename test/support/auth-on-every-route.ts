import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { fillPath, openApiOf, routeName, routesOf } from "./openapi.ts";

export interface AuthCheckOptions {
  /** The app's right bearer token: with it no route may answer 401 (so the 401s were auth's). */
  readonly token: string;
  /** `METHOD /path` of the routes meant to be open (`security: []` in the document), e.g. "GET /healthz". */
  readonly open: readonly string[];
  /** Where the app serves its document; /openapi.json by default. */
  readonly docUrl?: string;
}

/**
 * Walks every path and method of the app's own OpenAPI document and asserts each one answers 401
 * without a token and with a wrong one, before validating its input (no body is sent), and not 401
 * with the right token. Routes added later are covered without anyone listing them; the routes
 * declared open must be exactly `open`, so opening one is a visible change too. Works for any of
 * our fastify apps (they all serve their document and use contract/http/auth.ts):
 *   it("authenticates every route", () => expectAuthOnEveryRoute(app, { token, open: [...] }));
 * Returns the routes checked.
 */
export async function expectAuthOnEveryRoute(
  app: FastifyInstance,
  options: AuthCheckOptions,
): Promise<string[]> {
  const doc = await openApiOf(app, options.docUrl);
  expect(doc.security, "the document requires bearer auth by default").toEqual([{ bearerAuth: [] }]);
  const routes = routesOf(doc);
  const declaredOpen = routes.filter((r) => r.operation.security?.length === 0).map(routeName);
  expect(declaredOpen.sort(), "routes the document declares open").toEqual([...options.open].sort());

  const wrongToken = `wrong-${options.token.split("").reverse().join("")}`;
  const checked: string[] = [];
  for (const route of routes) {
    const name = routeName(route);
    if (options.open.includes(name)) continue;
    const method = route.method as "GET";
    const url = fillPath(route.path, "authcheck");
    const without = await app.inject({ method, url });
    expect(without.statusCode, `${name} without a token`).toBe(401);
    expect(without.headers["www-authenticate"], `${name} challenges`).toBe('Bearer realm="icsdn"');
    const wrong = await app.inject({ method, url, headers: { authorization: `Bearer ${wrongToken}` } });
    expect(wrong.statusCode, `${name} with a wrong token`).toBe(401);
    const right = await app.inject({ method, url, headers: { authorization: `Bearer ${options.token}` } });
    expect(right.statusCode, `${name} with the right token`).not.toBe(401);
    checked.push(name);
  }
  expect(checked.length, "routes behind auth").toBeGreaterThan(0);
  return checked;
}
