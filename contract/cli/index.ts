export { intFlag, isHelp, isParseArgsError, parseFlags, withUsage } from "./args.ts";
export { type Subcommand, UsageError } from "./command.ts";
