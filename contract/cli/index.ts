export { intFlag, isHelp, parseFlags, withUsage } from "./args.ts";
export { type Subcommand, UsageError } from "./command.ts";
