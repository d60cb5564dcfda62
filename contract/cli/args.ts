import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { UsageError } from "./command.ts";

/** node:util's parseArgs refuses an unknown or malformed option with a TypeError of this code family. */
function isParseArgsError(err: unknown): boolean {
  return err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS");
}

/**
 * parseArgs, strict, for a subcommand: an unknown or malformed option, or more than
 * `maxPositionals` positional arguments, is a UsageError that ends with `usage`.
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
  { usage, maxPositionals = 0 }: { usage: string; maxPositionals?: number },
) {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    if (isParseArgsError(err)) throw new UsageError(`${(err as Error).message}\n${usage}`);
    throw err;
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'\n${usage}`);
  }
  return parsed;
}

/** Runs `command`; a parseArgs refusal inside it becomes a UsageError that ends with `usage`. */
export async function withUsage<T>(usage: string, command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (err) {
    if (isParseArgsError(err)) throw new UsageError(`${(err as Error).message}\n${usage}`);
    throw err;
  }
}

/** `--flag VALUE` as a whole number in [min, max]. */
export function intFlag(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new UsageError(`--${flag} must be an integer ${min}..${max}, not '${value}'`);
  return n;
}

/** `-h`, `--help` or `help`: print the usage and exit 0. */
export function isHelp(arg: string | undefined): boolean {
  return arg === "-h" || arg === "--help" || arg === "help";
}
