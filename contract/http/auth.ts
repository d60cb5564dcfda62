import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Bearer-token auth is on unless the operator explicitly turns it off. */
export type AuthConfig = { readonly mode: "token"; readonly token: string } | { readonly mode: "none" };

/** Tokens shorter than this are guessable; refuse to start with one. */
export const MIN_TOKEN_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Compares in constant time: both sides are hashed first, so neither content nor length leaks
 * through timing.
 */
export function tokenMatches(expected: string, presented: string): boolean {
  return timingSafeEqual(digest(expected), digest(presented));
}

/** Adds the check to every route of `scope`. The token is never logged or echoed. */
export function requireBearerToken(scope: FastifyInstance, auth: AuthConfig): void {
  if (auth.mode === "none") return;
  const expected = auth.token;
  scope.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (match && tokenMatches(expected, match[1]!)) return;
    reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="icsdn"')
      .send({ error: "missing or wrong bearer token (Authorization: Bearer <token>)", code: "UNAUTHORIZED" });
    return reply;
  });
}
