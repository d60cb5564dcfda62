import { type ErrorTable, EXIT } from "../spec.ts";

/** Codes every REST API of ours answers with, whatever the component. */
export const HTTP_ERRORS = {
  INVALID_JSON: { status: 400, exit: EXIT.USAGE, summary: "the request body is not valid JSON" },
  BAD_REQUEST: { status: 400, exit: EXIT.USAGE, summary: "the request is malformed" },
  UNAUTHORIZED: { status: 401, exit: EXIT.NO_PERMISSION, summary: "no bearer token, or a wrong one" },
  NO_ROUTE: { status: 404, exit: EXIT.NOT_FOUND, summary: "no such route" },
  INTERNAL: { status: 500, exit: EXIT.SOFTWARE, summary: "an unexpected error (logged, not shown)" },
} as const satisfies ErrorTable;
