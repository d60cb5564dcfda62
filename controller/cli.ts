import { isHelp, parseFlags, type Subcommand, UsageError, withUsage } from "../contract/cli/index.ts";
import {
  DEFAULT_OPENFLOW_PORT,
  DEFAULT_OPENFLOW_TLS_PORT,
  loadAuth,
  parseDurationMs,
  parseListen,
  parseOpenFlowListen,
  parsePortOrOff,
  TOKEN_ENV,
} from "./config.ts";
import { jsonLog, type LogLevel } from "./openflow/log.ts";
import { loadTlsMaterial } from "./openflow/pki.ts";
import { PKI_USAGE, pkiCommand } from "./openflow/pki-cli.ts";
import { startController } from "./server.ts";

/** Probe port default: UDP 48879 (0xbeef) on both ends, which applications hardly use as a pair. */
const DEFAULT_PROBE_PORT = "48879";

const USAGE = `usage:
  icsdn controller serve --db PATH [--listen HOST:PORT] [--token-file FILE | --insecure-no-auth] [--log-level LEVEL]
                         [--openflow HOST:PORT|off] [--openflow-tls HOST:PORT --pki-dir DIR [--allow-unbound-certificates]]
                         [--echo-interval DURATION] [--probe-port PORT|off]
  icsdn controller pki init|issue|revoke ...   (see 'icsdn controller pki --help')

  --db PATH                SQLite database (created if missing; kept across restarts)
  --listen HOST:PORT       REST API address (default 127.0.0.1:8080; port 0 picks a free one)
  --token-file FILE        bearer token for /v1 (else $${TOKEN_ENV}); auth is on unless
  --insecure-no-auth       is given (lab use only)
  --log-level LEVEL        fatal, error, warn, info (default), debug, trace, silent
  --openflow HOST:PORT     OpenFlow 1.3 over TCP for switches (default 0.0.0.0:${DEFAULT_OPENFLOW_PORT}; 'off': none).
                           Plain TCP authenticates no switch: prefer --openflow-tls outside a lab
  --openflow-tls HOST:PORT OpenFlow over TLS, switches must present a certificate from the CA in
                           --pki-dir (port default ${DEFAULT_OPENFLOW_TLS_PORT})
  --pki-dir DIR            ca.crt, controller.key, controller.crt, crl.pem (icsdn controller pki init); a
                           switch is admitted only as the member its certificate names; crl.pem is
                           watched and reloaded when it changes (and on SIGHUP)
  --allow-unbound-certificates
                           also admit certificates that name no member (issued before certificates
                           did), as the switch of any dpid: any holder can pose as any member
  --echo-interval DURATION echo keepalive (default 5s): a silent switch is dropped within 3 intervals
  --probe-port PORT        UDP port of the controller's downtime probes (default ${DEFAULT_PROBE_PORT}); each
                           switch gets a probe rule per peer; 'off': no probe rules, no downtime`;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

async function serve(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      db: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8080" },
      "token-file": { type: "string" },
      "insecure-no-auth": { type: "boolean", default: false },
      "log-level": { type: "string", default: "info" },
      openflow: { type: "string", default: `0.0.0.0:${DEFAULT_OPENFLOW_PORT}` },
      "openflow-tls": { type: "string" },
      "pki-dir": { type: "string" },
      "allow-unbound-certificates": { type: "boolean", default: false },
      "echo-interval": { type: "string", default: "5s" },
      "probe-port": { type: "string", default: DEFAULT_PROBE_PORT },
    },
    { usage: USAGE },
  );
  if (values.db === undefined) throw new UsageError(`--db is required\n${USAGE}`);
  if (!LOG_LEVELS.includes(values["log-level"]))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  // Their errors are registered with exit 2 (INVALID_FIELD) or the PKI's own codes.
  const listen = parseListen(values.listen);
  const auth = loadAuth({ tokenFile: values["token-file"], insecureNoAuth: values["insecure-no-auth"] });
  const tcp = parseOpenFlowListen(values.openflow, "--openflow", DEFAULT_OPENFLOW_PORT);
  const tlsAt =
    values["openflow-tls"] === undefined
      ? undefined
      : parseOpenFlowListen(values["openflow-tls"], "--openflow-tls", DEFAULT_OPENFLOW_TLS_PORT);
  const echoIntervalMs = parseDurationMs(values["echo-interval"], "--echo-interval", 50, 3_600_000);
  const probePort = parsePortOrOff(values["probe-port"], "--probe-port");
  if (tlsAt && values["pki-dir"] === undefined) throw new UsageError("--openflow-tls needs --pki-dir");
  if (!tlsAt && values["pki-dir"] !== undefined) throw new UsageError("--pki-dir is for --openflow-tls");
  const allowUnbound = values["allow-unbound-certificates"];
  if (!tlsAt && allowUnbound) throw new UsageError("--allow-unbound-certificates is for --openflow-tls");
  const material =
    tlsAt && values["pki-dir"] !== undefined ? await loadTlsMaterial(values["pki-dir"]) : undefined;
  const level = values["log-level"] as LogLevel;
  const controller = await startController({
    dbPath: values.db,
    listen,
    auth,
    logger: level === "silent" ? false : { level },
    compile: { probePort },
    ...((tcp || tlsAt) && {
      openflow: {
        ...(tcp && { tcp }),
        ...(tlsAt && material && { tls: { ...tlsAt, material, allowUnboundCertificates: allowUnbound } }),
        session: { echoIntervalMs },
        log: jsonLog(level, (line) => process.stdout.write(line)),
      },
    }),
  });
  // The real ports (a configured port 0 picks one).
  const where = (controller.openflow?.addresses() ?? []).map(
    (a) => `${a.transport === "tls" ? "ssl" : "tcp"}:${a.address.host}:${a.address.port}`,
  );
  process.stdout.write(
    `icsdn controller: listening on ${controller.url} (auth: ${auth.mode === "token" ? "bearer token" : "OFF"}, db: ${values.db}, ` +
      `openflow: ${where.length > 0 ? where.join(" ") : "off"})\n`,
  );
  const reloadCrl = () => void controller.openflow?.reloadCrl();
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.off("SIGHUP", reloadCrl);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    process.on("SIGHUP", reloadCrl);
  });
  await controller.close();
  return 0;
}

const controller: Subcommand = {
  summary: "the SDN controller: cluster state, flow compiler, REST API, OpenFlow (serve, pki)",
  async run(argv) {
    const [verb, ...rest] = argv;
    if (verb === "pki") return withUsage(PKI_USAGE, () => pkiCommand(rest));
    if (verb === "serve") return serve(rest);
    if (isHelp(verb)) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(USAGE);
  },
};
export default controller;
