/** What the registry says of one error code: how the REST layer and the CLI answer it. */
export interface ErrorSpec {
  /** HTTP status a REST API answers with. */
  readonly status: number;
  /** Process exit code the CLI ends with (sysexits(3) where one fits). */
  readonly exit: number;
  /** One line on what the code means, for docs and the OpenAPI document. */
  readonly summary: string;
}

/** Exit codes, from sysexits(3) where one fits, so scripts can tell failures apart. */
export const EXIT = {
  FAILURE: 1,
  USAGE: 2, // a bad argument or input: fix the call
  NOT_FOUND: 3,
  CONFLICT: 4,
  DATA: 65, // EX_DATAERR: the input data (bytes, JSON) is malformed
  UNAVAILABLE: 69, // EX_UNAVAILABLE: a service or part we depend on is down or refused
  SOFTWARE: 70, // EX_SOFTWARE: a bug of ours
  OS: 71, // EX_OSERR: the machine refused (a command missing, a syscall failed)
  IO: 74, // EX_IOERR
  TEMPFAIL: 75, // EX_TEMPFAIL: try again later
  PROTOCOL: 76, // EX_PROTOCOL: the other side spoke nonsense
  NO_PERMISSION: 77, // EX_NOPERM: authentication or authorisation failed
  CONFIG: 78, // EX_CONFIG: a configuration file is wrong
} as const;

/** A component's table of codes. `satisfies` keeps the literal keys for the union of codes. */
export type ErrorTable = Readonly<Record<string, ErrorSpec>>;
