import { type ErrorTable, EXIT } from "../spec.ts";

/** The controller's REST-facing codes. */
export const CONTROLLER_ERRORS = {
  INVALID_FIELD: { status: 400, exit: EXIT.USAGE, summary: "a value is malformed or out of range" },
  NOT_FOUND: { status: 404, exit: EXIT.NOT_FOUND, summary: "no such cluster or member" },
  CONFLICT: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary:
      "a duplicate id, VNI, vint0 or endpoint, a cluster that still has members, or one already at its most members",
  },
  IMMUTABLE: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "an attempt to change what names a switch (VNI, tunnel, vint0)",
  },
  USE_REBIND: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "an endpoint change outside the rebind operation",
  },
  NOT_CONNECTED: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "the moving member's switch is not connected, so make-before-break is impossible",
  },
  FABRIC_FAILED: {
    status: 502,
    exit: EXIT.UNAVAILABLE,
    summary: "a switch refused or did not confirm a batch; nothing was committed",
  },
  STORE_FAILED: { status: 500, exit: EXIT.IO, summary: "the database is unusable (newer schema, I/O)" },
  PIPELINE_VIOLATION: {
    status: 500,
    exit: EXIT.SOFTWARE,
    summary: "the compiler produced a rule the pipeline forbids: a bug, never sent",
  },
} as const satisfies ErrorTable;
