import { type ErrorTable, EXIT } from "../spec.ts";

/** Why a request to a switch did not succeed (SwitchRequestError, one code per failure kind). */
export const SWITCH_ERRORS = {
  SWITCH_ERROR: {
    status: 502,
    exit: EXIT.UNAVAILABLE,
    summary: "the switch answered with an OpenFlow ERROR",
  },
  SWITCH_TIMEOUT: { status: 504, exit: EXIT.TEMPFAIL, summary: "the switch did not answer in time" },
  SWITCH_DISCONNECTED: {
    status: 502,
    exit: EXIT.UNAVAILABLE,
    summary: "the switch's session ended before it answered",
  },
  SWITCH_OVERLOADED: {
    status: 503,
    exit: EXIT.TEMPFAIL,
    summary: "too many requests in flight on the session: refused before sending",
  },
} as const satisfies ErrorTable;
