import { type ErrorTable, EXIT } from "../spec.ts";

/** Codes of the `icsdn` command's own plumbing. */
export const CLI_ERRORS = {
  USAGE: { status: 400, exit: EXIT.USAGE, summary: "a command line the command does not take" },
  BAD_INPUT: {
    status: 400,
    exit: EXIT.DATA,
    summary: "what a command read (hex, JSON on stdin) is malformed",
  },
} as const satisfies ErrorTable;
