import { IcsdnError } from "../contract/errors/index.ts";
import type { Subcommand } from "./command.ts";
import { UsageError } from "./command.ts";

// Loaded lazily so `icsdn ofp` does not pay for the lab's or the controller's imports.
const subcommands: Record<string, () => Promise<{ default: Subcommand }>> = {
  ofp: () => import("./ofp.ts"),
  controller: () => import("../controller/cli.ts"),
  lab: () => import("../lab/cli.ts"),
  "vm-init": () => import("../vm-init/cli.ts"),
  mediation: () => import("../mediation/cli.ts"),
  migrate: () => import("../mediation/migrate-cli.ts").then((m) => ({ default: m.migrate })),
  migrations: () => import("../mediation/migrate-cli.ts").then((m) => ({ default: m.migrations })),
};

async function usage(): Promise<string> {
  const lines = ["usage: icsdn <command> [args...]", "", "commands:"];
  for (const [name, load] of Object.entries(subcommands)) {
    lines.push(`  ${name.padEnd(10)} ${(await load()).default.summary}`);
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(`${await usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = subcommands[name];
  if (!load) throw new UsageError(`unknown command '${name}'\n${await usage()}`);
  return (await load()).default.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`icsdn: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof Error && "code" in err && typeof err.code === "string") {
      // Typed errors from our components carry a code; their message already names what is wrong.
      process.stderr.write(`icsdn: ${err.name} ${err.code}: ${err.message}\n`);
      process.exitCode = err instanceof IcsdnError ? err.exitCode : 1;
    } else {
      process.stderr.write(
        `icsdn: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 70;
    }
  },
);
