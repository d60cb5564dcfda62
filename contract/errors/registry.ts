import { CLI_ERRORS } from "./codes/cli.ts";
import { CONTRACT_ERRORS } from "./codes/contract.ts";
import { CONTROLLER_ERRORS } from "./codes/controller.ts";
import { CONTROLLER_CLIENT_ERRORS } from "./codes/controller-client.ts";
import { HTTP_ERRORS } from "./codes/http.ts";
import { LAB_ERRORS } from "./codes/lab.ts";
import { PKI_ERRORS } from "./codes/pki.ts";
import { PROTO_ERRORS } from "./codes/proto.ts";
import { SWITCH_ERRORS } from "./codes/switch.ts";
import { VM_INIT_ERRORS } from "./codes/vm-init.ts";
import type { ErrorSpec, ErrorTable } from "./spec.ts";

/**
 * Every error code of every component, once, by component. A component adds its table in codes/
 * and names it here; a code defined twice throws when this module loads.
 */
export const ERROR_TABLES = {
  contract: CONTRACT_ERRORS,
  cli: CLI_ERRORS,
  http: HTTP_ERRORS,
  "controller-client": CONTROLLER_CLIENT_ERRORS,
  proto: PROTO_ERRORS,
  controller: CONTROLLER_ERRORS,
  switch: SWITCH_ERRORS,
  pki: PKI_ERRORS,
  "vm-init": VM_INIT_ERRORS,
  lab: LAB_ERRORS,
} as const;

type Tables = typeof ERROR_TABLES;
export type ErrorCode = { [K in keyof Tables]: keyof Tables[K] }[keyof Tables] & string;

/** One table of the components' tables; throws on a code two components define. */
export function mergeErrorTables(
  tables: Readonly<Record<string, ErrorTable>>,
): Readonly<Record<string, ErrorSpec>> {
  const out: Record<string, ErrorSpec> = {};
  const owner: Record<string, string> = {};
  for (const [component, table] of Object.entries(tables)) {
    for (const [code, spec] of Object.entries(table)) {
      if (Object.hasOwn(out, code)) {
        throw new Error(`error code ${code} is registered twice (${owner[code]} and ${component})`);
      }
      out[code] = spec;
      owner[code] = component;
    }
  }
  return Object.freeze(out);
}

export const ERROR_REGISTRY = mergeErrorTables(ERROR_TABLES) as Readonly<Record<ErrorCode, ErrorSpec>>;

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_REGISTRY[code];
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_REGISTRY, code);
}
