import { type ErrorCode, errorSpec } from "./registry.ts";

export interface IcsdnErrorOptions {
  /** The offending input as a path (`members[1].vint0`), when there is one. */
  readonly field?: string;
  /** Structured context; never secrets. */
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
}

/**
 * The base of every error our components throw on purpose. Its code is registered in
 * ERROR_REGISTRY, which gives the HTTP status a REST API answers with and the CLI's exit code.
 */
export class IcsdnError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name: string = "IcsdnError";
  readonly code: C;
  readonly field: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(code: C, message: string, options: IcsdnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  get status(): number {
    return errorSpec(this.code).status;
  }

  get exitCode(): number {
    return errorSpec(this.code).exit;
  }
}
