/** The body of every error answer of every REST API of ours (contract/http/error-handler.ts). */
export interface ErrorBody {
  readonly error: string;
  /** A code of the error registry (contract/errors), or INVALID_FIELD / NO_ROUTE from the handler. */
  readonly code: string;
  /** Path of the offending input, e.g. members[0].vint0. */
  readonly field?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}
