import type { FastifyError, FastifyInstance } from "fastify";
import { IcsdnError } from "../errors/index.ts";
import type { ErrorBody } from "./error-body.ts";

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "/members/0/vint0" -> "members[0].vint0" */
function pathToField(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce(
      (out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out === "" ? part : `${out}.${part}`),
      "",
    );
}

/** `members[0]` + `vint0` -> "members[0].vint0"; the name as sent (ajv gives it raw, unescaped). */
function childField(parent: string, name: unknown): string {
  return parent === "" ? String(name) : `${parent}.${String(name)}`;
}

/** The field an ajv error is about, and a message that names it. */
export function describeValidation(e: AjvError, context: string): { field: string; error: string } {
  let field = pathToField(e.instancePath);
  if (e.keyword === "required") field = childField(field, e.params.missingProperty);
  if (e.keyword === "additionalProperties") {
    field = childField(field, e.params.additionalProperty);
    return { field, error: `${field}: unknown field` };
  }
  const name = field === "" ? context : field;
  if (e.keyword === "required") return { field: name, error: `${name}: required` };
  return { field: name, error: `${name}: ${e.message ?? "is invalid"}` };
}

/**
 * Maps every failure (an IcsdnError answers with its registered status) to `{error, code, field?, details?}` with a 4xx/5xx status. Unexpected
 * errors are logged and answered with a bare 500 (no internals leak).
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | IcsdnError | Error, request, reply) => {
    if (err instanceof IcsdnError) {
      const status = err.status;
      if (status >= 500) request.log.error({ err }, "request failed");
      const body: ErrorBody = {
        error: err.message,
        code: err.code,
        ...(err.field !== undefined && { field: err.field }),
        ...(err.details !== undefined && { details: { ...err.details } }),
      };
      return reply.code(status).send(body);
    }
    const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
    if (fe.validation && fe.validation.length > 0) {
      const { field, error } = describeValidation(fe.validation[0]!, fe.validationContext ?? "body");
      return reply.code(400).send({ error, code: "INVALID_FIELD", field });
    }
    if (fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY") {
      return reply.code(400).send({ error: `body is not valid JSON: ${fe.message}`, code: "INVALID_JSON" });
    }
    if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ error: fe.message, code: fe.code ?? "BAD_REQUEST" });
    }
    request.log.error({ err }, "unexpected error");
    return reply.code(500).send({ error: "internal error", code: "INTERNAL" });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: `no route ${request.method} ${request.url.split("?")[0]}`, code: "NO_ROUTE" }),
  );
}
