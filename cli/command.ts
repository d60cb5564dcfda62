/** What every `icsdn <subcommand>` module exports. Returns the process exit code. */
export interface Subcommand {
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}

/** An error the CLI prints as one line (no stack) before exiting with `exitCode`. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Runs a verb; parseArgs' unknown or malformed options (TypeErrors with a code) become usage errors showing `usage`. */
export async function withUsage(usage: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      throw new UsageError(`${err.message}\n${usage}`);
    }
    throw err;
  }
}
