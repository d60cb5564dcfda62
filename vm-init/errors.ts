import type { CONTRACT_ERRORS } from "../contract/errors/codes/contract.ts";
import type { VM_INIT_ERRORS } from "../contract/errors/codes/vm-init.ts";
import { IcsdnError } from "../contract/errors/index.ts";

/**
 * Why vm-init refused or failed (contract/errors/codes/vm-init.ts), or the contract's
 * INVALID_ARGUMENT when a library caller passed a bad value. The message always names the config
 * field or the thing at fault.
 */
export type VmInitErrorCode = keyof typeof VM_INIT_ERRORS | keyof typeof CONTRACT_ERRORS;

/** One schema violation: the dotted path of the field and what is wrong with it. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** `field`, when set, is the config field at fault (e.g. `underlay.nics[1]`). */
export class VmInitError extends IcsdnError<VmInitErrorCode> {
  override readonly name = "VmInitError";
  /** Every schema violation found (INVALID_CONFIG only); `message` lists them too. */
  readonly issues: readonly ConfigIssue[];
  /** Set when a failed apply tried to undo its changes and that, too, failed. */
  rollbackError: Error | undefined;

  constructor(
    code: VmInitErrorCode,
    message: string,
    opts: { field?: string; issues?: readonly ConfigIssue[]; cause?: unknown } = {},
  ) {
    super(code, message, { field: opts.field, cause: opts.cause });
    this.issues = opts.issues ?? [];
    this.rollbackError = undefined;
  }

  /** Builds INVALID_CONFIG from the issues a validation pass collected. */
  static invalidConfig(issues: readonly ConfigIssue[]): VmInitError {
    const text = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    return new VmInitError("INVALID_CONFIG", `invalid vm-init config: ${text}`, {
      field: issues[0]?.path,
      issues,
    });
  }
}
