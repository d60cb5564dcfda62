import type { CONTROLLER_ERRORS } from "../contract/errors/codes/controller.ts";
import { IcsdnError, type IcsdnErrorOptions } from "../contract/errors/index.ts";

/** What kind of thing went wrong; the registry (contract/errors/codes/controller.ts) says each one's HTTP status. */
export type ControllerErrorCode = keyof typeof CONTROLLER_ERRORS;

/**
 * The one exception the controller's core throws. `field` names the offending input as a path
 * (`members[1].vint0`) so callers can point at it; `details` carries structured context.
 */
export class ControllerError extends IcsdnError<ControllerErrorCode> {
  override readonly name = "ControllerError";
  constructor(code: ControllerErrorCode, message: string, options: IcsdnErrorOptions = {}) {
    super(code, message, options);
  }
}

/** `members[0]` + `vint0` -> `members[0].vint0`; an empty prefix gives the bare name. */
export function fieldPath(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

export function invalidField(field: string, message: string): ControllerError {
  return new ControllerError("INVALID_FIELD", `${field}: ${message}`, { field });
}
