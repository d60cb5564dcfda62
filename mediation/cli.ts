import { accessSync, constants, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Subcommand, UsageError, withUsage } from "../contract/cli/index.ts";
import { IcsdnError } from "../contract/errors/index.ts";
import { loadAuth, parseListen, untilSignalled } from "../contract/http/serve-config.ts";
import { ControllerClientPort } from "./ports/controller-client-port.ts";
import { SshLinkChecker } from "./ports/ssh-link-check.ts";
import { startMediation } from "./server.ts";

export const TOKEN_ENV = "ICSDN_MEDIATION_TOKEN";
const CONTROLLER_TOKEN_ENV = "ICSDN_CONTROLLER_TOKEN";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

const USAGE = `usage:
  icsdn mediation serve --db PATH [--listen HOST:PORT] [--token-file FILE | --insecure-no-auth] [--log-level LEVEL]
                        --controller URL [--controller-token-file FILE]
                        [--ssh-key FILE [--ssh-user USER] [--ssh-require-reported-host-key]]
                        [--switch-timeout SECONDS]

  --db PATH                    SQLite migration journal (created if missing; migrations resume or roll back at start)
  --listen HOST:PORT           REST API address (default 127.0.0.1:8081; port 0 picks a free one)
  --token-file FILE            bearer token for /v1 (else $${TOKEN_ENV}); auth is on unless
  --insecure-no-auth           is given (lab use only)
  --controller URL             the SDN controller's REST API (e.g. http://127.0.0.1:8080)
  --controller-token-file FILE its bearer token (else $${CONTROLLER_TOKEN_ENV})
  --ssh-key FILE               private key (no passphrase) to check a moved VM's links over ssh; without it the check
  --ssh-user USER              is skipped and each migration's events say so (default user: debian)
  --ssh-require-reported-host-key
                               refuse a VM's ssh host key unless the target cloud reports it (cloud-init's keys in
                               the console log, waited for up to 60 s); by default a VM whose cloud reports none is
                               trusted on its first key, recorded as hostKeySource first-seen
  --switch-timeout SECONDS     how long a new instance's switch may take to connect (default 120)
  Clouds come from clouds.yaml (and secure.yaml) where openstacksdk looks: $OS_CLIENT_CONFIG_FILE,
  ./clouds.yaml, ~/.config/openstack/, /etc/openstack/.`;

async function serve(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8081" },
      "token-file": { type: "string" },
      "insecure-no-auth": { type: "boolean", default: false },
      "log-level": { type: "string", default: "info" },
      controller: { type: "string" },
      "controller-token-file": { type: "string" },
      "ssh-key": { type: "string" },
      "ssh-user": { type: "string", default: "debian" },
      "ssh-require-reported-host-key": { type: "boolean", default: false },
      "switch-timeout": { type: "string", default: "120" },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  if (values.db === undefined) throw new UsageError(`--db is required\n${USAGE}`);
  if (values.controller === undefined || !/^https?:\/\/\S+$/.test(values.controller)) {
    throw new UsageError(`--controller URL (http://HOST:PORT) is required\n${USAGE}`);
  }
  if (!LOG_LEVELS.includes(values["log-level"]))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  const switchTimeout = Number(values["switch-timeout"]);
  if (!(switchTimeout > 0 && switchTimeout <= 3600))
    throw new UsageError("--switch-timeout must be 1 to 3600 seconds");
  let listen: ReturnType<typeof parseListen>;
  let auth: ReturnType<typeof loadAuth>;
  try {
    listen = parseListen(values.listen);
    auth = loadAuth({
      tokenEnv: TOKEN_ENV,
      tokenFile: values["token-file"],
      insecureNoAuth: values["insecure-no-auth"],
    });
  } catch (err) {
    if (err instanceof IcsdnError) throw new UsageError(err.message);
    throw err;
  }
  const controllerToken = readSecret(
    values["controller-token-file"],
    CONTROLLER_TOKEN_ENV,
    "--controller-token-file",
  );
  const sshKey = values["ssh-key"];
  // At start, not at a migration's link check after its transfer: a key file that is not there.
  if (sshKey !== undefined) {
    try {
      accessSync(sshKey, constants.R_OK);
    } catch (err) {
      throw new UsageError(`--ssh-key: cannot read ${sshKey}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  if (values["ssh-require-reported-host-key"] && sshKey === undefined)
    throw new UsageError(
      "--ssh-require-reported-host-key needs --ssh-key (it is about the link check's login)",
    );
  const level = values["log-level"];
  const mediation = await startMediation({
    dbPath: values.db,
    listen,
    auth,
    controller: new ControllerClientPort({ url: values.controller, token: controllerToken }),
    ...(sshKey !== undefined && {
      linkChecker: new SshLinkChecker({
        username: values["ssh-user"],
        privateKeyFile: sshKey,
        requireReportedHostKey: values["ssh-require-reported-host-key"],
      }),
    }),
    logger: level === "silent" ? false : { level },
    runner: { switchDeadlineMs: switchTimeout * 1000 },
  });
  process.stdout.write(
    `icsdn mediation: listening on ${mediation.url} (auth: ${auth.mode === "token" ? "bearer token" : "OFF"}, db: ${values.db}, controller: ${values.controller})\n`,
  );
  await untilSignalled();
  await mediation.close();
  return 0;
}

function readSecret(file: string | undefined, env: string | undefined, flag: string): string | undefined {
  if (file === undefined) return env === undefined ? undefined : process.env[env] || undefined;
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(err as Error).message}`);
  }
}

const mediation: Subcommand = {
  summary: "the migration service: moves cluster members between clouds (serve)",
  async run(argv) {
    const [verb, ...rest] = argv;
    if (verb === "serve") return withUsage(USAGE, () => serve(rest));
    if (verb === "-h" || verb === "--help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(USAGE);
  },
};
export default mediation;
