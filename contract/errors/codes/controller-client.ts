import { type ErrorTable, EXIT } from "../spec.ts";

/** Codes of the controller's REST client (contract/controller-api/client.ts), as its callers see them. */
export const CONTROLLER_CLIENT_ERRORS = {
  CONTROLLER_UNREACHABLE: {
    status: 503,
    exit: EXIT.UNAVAILABLE,
    summary: "the controller's REST API did not answer (refused connection, timeout)",
  },
  CONTROLLER_REFUSED: {
    status: 502,
    exit: EXIT.FAILURE,
    summary: "the controller answered with an error; details carry its status and code",
  },
  CONTROLLER_BAD_ANSWER: {
    status: 502,
    exit: EXIT.PROTOCOL,
    summary: "the controller's answer is not the JSON the API describes",
  },
} as const satisfies ErrorTable;
