import { type ErrorTable, EXIT } from "../spec.ts";

/** Codes of contract/ itself (the data-plane rules). */
export const CONTRACT_ERRORS = {
  INVALID_ARGUMENT: {
    status: 400,
    exit: EXIT.USAGE,
    summary: "a caller passed a value a function does not take (a VNI out of range, not an address)",
  },
} as const satisfies ErrorTable;
