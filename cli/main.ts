import { isHelp, type Subcommand, UsageError } from "../contract/cli/index.ts";
import { IcsdnError } from "../contract/errors/index.ts";

// Loaded lazily so `icsdn ofp` does not pay for the lab's or the controller's imports.
const subcommands: Record<string, () => Promise<{ default: Subcommand }>> = {
  ofp: () => import("./ofp.ts"),
  controller: () => import("../controller/cli.ts"),
  lab: () => import("../lab/cli.ts"),
  "vm-init": () => import("../vm-init/cli.ts"),
  mediation: () => import("../mediation/cli.ts"),
  migrate: () => import("../mediation/migrate-cli.ts").then((m) => ({ default: m.migrate })),
  migrations: () => import("../mediation/migrate-cli.ts").then((m) => ({ default: m.migrations })),
  demo: () => import("../demo/cli.ts"),
};

/** Unexpected: a bug of ours (EX_SOFTWARE). */
const EXIT_UNEXPECTED = 70;

async function usage(): Promise<string> {
  const lines = ["usage: icsdn <command> [args...]", "", "commands:"];
  for (const [name, load] of Object.entries(subcommands)) {
    lines.push(`  ${name.padEnd(10)} ${(await load()).default.summary}`);
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || isHelp(name)) {
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
    if (err instanceof IcsdnError) {
      // Our errors are registered: their message names what is wrong, the registry the exit code.
      process.stderr.write(`icsdn: ${err.code}: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(
        `icsdn: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = EXIT_UNEXPECTED;
    }
  },
);
