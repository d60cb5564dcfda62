import { IcsdnError } from "../errors/index.ts";

/** What every `icsdn <subcommand>` module exports. Returns the process exit code. */
export interface Subcommand {
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}

/** A command line the command does not take: printed as one line (no stack), exit 2 (USAGE). */
export class UsageError extends IcsdnError<"USAGE"> {
  override readonly name = "UsageError";
  constructor(message: string) {
    super("USAGE", message);
  }
}
