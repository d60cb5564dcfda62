/** What kind of thing went wrong; the REST layer maps each to one HTTP status. */
export type ControllerErrorCode =
  | "INVALID_FIELD" // a value that is malformed or out of range (400)
  | "NOT_FOUND" // no such cluster or member (404)
  | "CONFLICT" // a duplicate id, VNI, vint0 or endpoint, or a cluster that still has members (409)
  | "IMMUTABLE" // an attempt to change what names a switch (VNI, tunnel, vint0) (409)
  | "USE_REBIND" // an endpoint change outside the rebind operation (409)
  | "NOT_CONNECTED" // the moving member's switch is not connected, so make-before-break is impossible (409)
  | "FABRIC_FAILED" // a switch refused or did not confirm a batch; nothing was committed (502)
  | "STORE_FAILED" // the database is unusable (newer schema, I/O) (500)
  | "PIPELINE_VIOLATION"; // the compiler produced a rule the pipeline forbids: a bug, never sent (500)

/**
 * The one exception the controller's core throws. `field` names the offending input as a path
 * (`members[1].vint0`) so callers can point at it; `details` carries structured context.
 */
export class ControllerError extends Error {
  override readonly name = "ControllerError";
  readonly code: ControllerErrorCode;
  readonly field: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(
    code: ControllerErrorCode,
    message: string,
    options: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }
}

/** `members[0]` + `vint0` -> `members[0].vint0`; an empty prefix gives the bare name. */
export function fieldPath(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

export function invalidField(field: string, message: string): ControllerError {
  return new ControllerError("INVALID_FIELD", `${field}: ${message}`, { field });
}
