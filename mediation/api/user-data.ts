import { VmInitError } from "../../vm-init/errors.ts";
import { userData } from "../../vm-init/user-data.ts";
import { parseConfig } from "../../vm-init/validate.ts";
import { MediationError } from "../errors.ts";

/** The target server's user-data: vm-init's own generator over the member's config, so it joins as the same member. */
export function vmInitUserData(input: unknown): string {
  try {
    return userData(parseConfig(input));
  } catch (err) {
    if (err instanceof VmInitError) {
      const field = err.issues[0]?.path ?? err.field;
      throw new MediationError("INVALID_FIELD", `vmInit: ${err.message}`, {
        field: field ? `vmInit.${field}` : "vmInit",
      });
    }
    throw err;
  }
}
