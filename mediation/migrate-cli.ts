import { readFileSync } from "node:fs";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { type Subcommand, UsageError } from "../contract/cli/index.ts";
import { errorSpec, isErrorCode } from "../contract/errors/index.ts";
import { TOKEN_ENV } from "./cli.ts";
import { MediationClient } from "./client.ts";
import { migrateCluster } from "./migrate-cluster-cli.ts";
import { progressLine } from "./progress.ts";

const URL_ENV = "ICSDN_MEDIATION_URL";
const DEFAULT_URL = "http://127.0.0.1:8081";

const CONNECTION = `  --url URL          the mediation service (default $${URL_ENV}, else ${DEFAULT_URL})
  --token-file FILE  its bearer token (else $${TOKEN_ENV})`;

export const MIGRATE_USAGE = `usage: icsdn migrate MEMBER --from CLOUD --to CLOUD [--server NAME] [--network NET] [--flavor FLAVOR]
                     [--vm-init FILE] [--dry-run] [--wait] [--url URL] [--token-file FILE]
       icsdn migrate --cluster ID --to CLOUD [--plan] [--mode atomic|rolling] [--network NET]
                     [--max-parallel N] [--max-in-transit N] [--bandwidth-mbps MBPS] [--wait]
  Moves a cluster member's server from one cloud of clouds.yaml to another; --wait follows it
  (a progress bar on a terminal, one line per event otherwise) and exits 0 only if it succeeded.
  With --cluster every member moves (found by its floating IP in the configured clouds); --plan
  prints the plan and every problem without creating anything; --wait draws one bar per member.
${CONNECTION}`;

export const MIGRATIONS_USAGE = `usage: icsdn migrations list|show ID|cancel ID [--url URL] [--token-file FILE]
${CONNECTION}`;

function client(values: { url?: string | undefined; "token-file"?: string | undefined }): MediationClient {
  let token = process.env[TOKEN_ENV] || undefined;
  if (values["token-file"] !== undefined) {
    try {
      token = readFileSync(values["token-file"], "utf8").trim();
    } catch (err) {
      throw new UsageError(`--token-file: cannot read ${values["token-file"]}: ${(err as Error).message}`);
    }
  }
  return new MediationClient(values.url ?? process.env[URL_ENV] ?? DEFAULT_URL, token);
}

/** parseArgs with the connection options added; a malformed call is a usage error. */
function parse<const O extends ParseArgsOptionsConfig>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...CONNECTION_OPTIONS, ...options },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
}

const CONNECTION_OPTIONS = { url: { type: "string" }, "token-file": { type: "string" } } as const;

/** Follows a migration's events to its end; returns the exit code of its outcome. */
async function follow(api: MediationClient, id: string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let phase = "";
  for await (const e of api.events(id)) {
    if (e.type === "phase") phase = String(e.data.step);
    if (e.type === "progress") {
      const m = await api.get(id);
      const line = progressLine({
        phase,
        done: m.bytes.done,
        total: m.bytes.total,
        rate: m.rateBytesPerSecond,
        eta: m.etaSeconds,
      });
      if (tty) process.stdout.write(`\r${line}\x1b[K`);
      continue;
    }
    if (tty) process.stdout.write("\r\x1b[K");
    const detail = Object.entries(e.data)
      .filter(([k]) => k !== "at")
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    process.stdout.write(`${e.type}${detail ? ` ${detail}` : ""}\n`);
  }
  const final = await api.get(id);
  process.stdout.write(
    `migration ${id}: ${final.status}${final.error ? ` (${final.error.code}: ${final.error.message})` : ""}\n`,
  );
  if (final.status === "succeeded") return 0;
  return final.error && isErrorCode(final.error.code) ? errorSpec(final.error.code).exit : 1;
}

export const migrate: Subcommand = {
  summary: "move a cluster member to another cloud (through the mediation service)",
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        from: { type: "string" },
        to: { type: "string" },
        server: { type: "string" },
        network: { type: "string" },
        flavor: { type: "string" },
        "vm-init": { type: "string" },
        "dry-run": { type: "boolean", default: false },
        wait: { type: "boolean", default: false },
        cluster: { type: "string" },
        mode: { type: "string" },
        plan: { type: "boolean", default: false },
        "max-parallel": { type: "string" },
        "max-in-transit": { type: "string" },
        "bandwidth-mbps": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      MIGRATE_USAGE,
    );
    if (values.help) {
      process.stdout.write(`${MIGRATE_USAGE}\n`);
      return 0;
    }
    if (typeof values.cluster === "string") {
      if (positionals.length > 0) throw new UsageError(`--cluster takes no MEMBER\n${MIGRATE_USAGE}`);
      return migrateCluster(client(values as { url?: string; "token-file"?: string }), {
        cluster: values.cluster,
        to: values.to,
        network: values.network,
        mode: values.mode,
        plan: values.plan === true,
        wait: values.wait === true,
        "max-parallel": values["max-parallel"],
        "max-in-transit": values["max-in-transit"],
        "bandwidth-mbps": values["bandwidth-mbps"],
      });
    }
    const [member, ...extra] = positionals;
    if (member === undefined || extra.length > 0)
      throw new UsageError(`one MEMBER is required\n${MIGRATE_USAGE}`);
    if (typeof values.from !== "string" || typeof values.to !== "string")
      throw new UsageError(`--from and --to are required\n${MIGRATE_USAGE}`);
    let vmInit: unknown;
    if (typeof values["vm-init"] === "string") {
      try {
        vmInit = JSON.parse(readFileSync(values["vm-init"], "utf8"));
      } catch (err) {
        throw new UsageError(`--vm-init: ${(err as Error).message}`);
      }
    }
    const request = {
      member,
      source: { cloud: values.from },
      target: { cloud: values.to, ...(typeof values.network === "string" && { network: values.network }) },
      ...(typeof values.server === "string" && { server: values.server }),
      ...(typeof values.flavor === "string" && { flavor: values.flavor }),
      ...(vmInit !== undefined && { vmInit }),
    };
    const api = client(values as { url?: string; "token-file"?: string });
    if (values["dry-run"]) {
      const { problems, flavor } = await api.dryRun(request);
      for (const p of problems) process.stdout.write(`problem: ${p.field}: ${p.message}\n`);
      if (problems.length === 0)
        process.stdout.write(`ok: the migration can run (target flavor ${flavor})\n`);
      return problems.length === 0 ? 0 : 2;
    }
    const m = await api.create(request);
    process.stdout.write(`migration ${m.id} started (${member}: ${values.from} -> ${values.to})\n`);
    return values.wait ? follow(api, m.id) : 0;
  },
};

export const migrations: Subcommand = {
  summary: "list, show or cancel migrations of the mediation service",
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { help: { type: "boolean", short: "h", default: false } },
      MIGRATIONS_USAGE,
    );
    const [verb, id, ...extra] = positionals;
    if (values.help) {
      process.stdout.write(`${MIGRATIONS_USAGE}\n`);
      return 0;
    }
    const api = client(values as { url?: string; "token-file"?: string });
    if (verb === "list" && id === undefined) {
      for (const m of await api.list()) {
        process.stdout.write(
          `${m.id}  ${m.member.padEnd(16)} ${m.source.cloud} -> ${m.target.cloud}  ${m.status.padEnd(12)} ${m.phase}\n`,
        );
      }
      return 0;
    }
    if ((verb === "show" || verb === "cancel") && id !== undefined && extra.length === 0) {
      const m = verb === "show" ? await api.get(id) : await api.cancel(id);
      process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
      return 0;
    }
    throw new UsageError(MIGRATIONS_USAGE);
  },
};
