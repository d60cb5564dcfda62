import { CONTROLLER_ERRORS } from "./codes/controller.ts";
import { HTTP_ERRORS } from "./codes/http.ts";
import { MEDIATION_ERRORS } from "./codes/mediation.ts";
import type { ErrorSpec } from "./spec.ts";

/**
 * Every error code of every component, once. A component adds its table in codes/ and spreads it
 * here; a code defined twice throws when this module loads.
 */
const TABLES = [HTTP_ERRORS, CONTROLLER_ERRORS, MEDIATION_ERRORS] as const;

type Keys<T> = T extends readonly [infer H, ...infer R] ? keyof H | Keys<R> : never;
export type ErrorCode = Keys<typeof TABLES> & string;

function merge(
  tables: readonly Readonly<Record<string, ErrorSpec>>[],
): Readonly<Record<ErrorCode, ErrorSpec>> {
  const out: Record<string, ErrorSpec> = {};
  for (const table of tables) {
    for (const [code, spec] of Object.entries(table)) {
      if (code in out) throw new Error(`error code ${code} is registered twice`);
      out[code] = spec;
    }
  }
  return Object.freeze(out) as Readonly<Record<ErrorCode, ErrorSpec>>;
}

export const ERROR_REGISTRY = merge(TABLES);

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_REGISTRY[code];
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_REGISTRY, code);
}
