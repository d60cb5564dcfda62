import type { MEDIATION_ERRORS } from "../contract/errors/codes/mediation.ts";
import { IcsdnError, type IcsdnErrorOptions } from "../contract/errors/index.ts";

export type MediationErrorCode = keyof typeof MEDIATION_ERRORS | "INVALID_FIELD";

/** What the mediation throws; the registry gives each code its HTTP status and exit code. */
export class MediationError extends IcsdnError<MediationErrorCode> {
  override readonly name = "MediationError";
  constructor(code: MediationErrorCode, message: string, options: IcsdnErrorOptions = {}) {
    super(code, message, options);
  }
}
