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
