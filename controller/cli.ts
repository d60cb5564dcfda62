import { parseArgs } from "node:util";
import type { Subcommand } from "../cli/command.ts";
import { UsageError } from "../cli/command.ts";
import { loadAuth, parseListen, TOKEN_ENV } from "./config.ts";
import { ControllerError } from "./errors.ts";
import { startController } from "./server.ts";

const USAGE = `usage:
  icsdn controller serve --db PATH [--listen HOST:PORT] [--token-file FILE | --insecure-no-auth] [--log-level LEVEL]

  --db PATH           SQLite database (created if missing; kept across restarts)
  --listen HOST:PORT  REST API address (default 127.0.0.1:8080; port 0 picks a free one)
  --token-file FILE   bearer token for /v1 (else $${TOKEN_ENV}); auth is on unless
  --insecure-no-auth  is given (lab use only)
  --log-level LEVEL   fatal, error, warn, info (default), debug, trace, silent`;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

async function serve(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8080" },
      "token-file": { type: "string" },
      "insecure-no-auth": { type: "boolean", default: false },
      "log-level": { type: "string", default: "info" },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  if (values.db === undefined) throw new UsageError(`--db is required\n${USAGE}`);
  if (!LOG_LEVELS.includes(values["log-level"]))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  let listen: ReturnType<typeof parseListen>;
  let auth: ReturnType<typeof loadAuth>;
  try {
    listen = parseListen(values.listen);
    auth = loadAuth({ tokenFile: values["token-file"], insecureNoAuth: values["insecure-no-auth"] });
  } catch (err) {
    if (err instanceof ControllerError) throw new UsageError(err.message);
    throw err;
  }
  const controller = await startController({
    dbPath: values.db,
    listen,
    auth,
    logger: values["log-level"] === "silent" ? false : { level: values["log-level"] },
  });
  process.stdout.write(
    `icsdn controller: listening on ${controller.url} (auth: ${auth.mode === "token" ? "bearer token" : "OFF"}, db: ${values.db})\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await controller.close();
  return 0;
}

const controller: Subcommand = {
  summary: "the SDN controller: cluster state, flow compiler, REST API (serve)",
  async run(argv) {
    const [verb, ...rest] = argv;
    if (verb === "serve") {
      try {
        return await serve(rest);
      } catch (err) {
        // parseArgs reports unknown or malformed options as TypeErrors with a code.
        if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
          throw new UsageError(`${err.message}\n${USAGE}`);
        }
        throw err;
      }
    }
    if (verb === "-h" || verb === "--help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(USAGE);
  },
};
export default controller;
