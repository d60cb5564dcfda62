import { spawn } from "node:child_process";
import { parseFlags, type Subcommand, UsageError } from "../contract/cli/index.ts";
import { apply } from "./apply.ts";
import { redial } from "./redial.ts";
import type { Target } from "./shell.ts";
import { status } from "./status.ts";
import { teardown } from "./teardown.ts";
import { type IcsdnInstall, userData } from "./user-data.ts";
import { loadConfigFile } from "./validate.ts";

/** How long the redial that a boot's apply leaves behind keeps dialing. */
const DEFAULT_REDIAL_S = 120;

const USAGE = `usage: icsdn vm-init <action> [options]

actions:
  apply      --config F   build or converge icbond0/icbr0/enc0/vint0; prints the result as JSON
                          (linkingMs, controllerConnected, datapathId, changes, timings); when
                          icbr0 did not connect, leaves 'redial' running in the background
  redial     --config F [--for S]   dial icbr0's controllers every second until one answers
                          (at most S seconds, default ${DEFAULT_REDIAL_S}), not with Open vSwitch's
                          backoff of up to 8 s
  teardown   --config F   remove what apply built (only vm-init's own bridges)
  status     [--config F] [--json]   bridges, interfaces, addresses, controller connection, dpid
  user-data  --config F   print #cloud-config user-data that installs OVS and runs apply at boot
               [--install image|tarball] [--icsdn-dir DIR] [--icsdn-url URL --icsdn-sha256 HEX]
  validate   --config F   check a config and print it normalised

options:
  --ovs-rundir DIR   the OVS to configure (its db.sock); default $OVS_RUNDIR or /var/run/openvswitch
  --netns NAME       the network namespace of the devices, when running outside it`;

const OPTIONS = {
  config: { type: "string", short: "c" },
  for: { type: "string" },
  "ovs-rundir": { type: "string" },
  netns: { type: "string" },
  json: { type: "boolean" },
  install: { type: "string" },
  "icsdn-dir": { type: "string" },
  "icsdn-url": { type: "string" },
  "icsdn-sha256": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parse>["values"];

/** One positional: the action. */
function parse(argv: string[]) {
  return parseFlags(argv, OPTIONS, { usage: USAGE, maxPositionals: 1 });
}

function targetOf(v: Values): Target {
  const t: Target = {};
  if (v["ovs-rundir"] !== undefined) t.ovsRundir = v["ovs-rundir"];
  if (v.netns !== undefined) t.netns = v.netns;
  return t;
}

function needConfig(v: Values): string {
  if (v.config === undefined) throw new UsageError(`--config is required\n${USAGE}`);
  return v.config;
}

function installOf(v: Values): IcsdnInstall {
  const dir = v["icsdn-dir"];
  const kind = v.install ?? (v["icsdn-url"] === undefined ? "image" : "tarball");
  if (kind === "image") return dir === undefined ? { kind } : { kind, dir };
  if (kind !== "tarball") throw new UsageError(`--install must be image or tarball, got "${kind}"`);
  const url = v["icsdn-url"];
  const sha256 = v["icsdn-sha256"];
  if (url === undefined || sha256 === undefined) {
    throw new UsageError("--install tarball needs --icsdn-url and --icsdn-sha256");
  }
  return dir === undefined ? { kind, url, sha256 } : { kind, url, sha256, dir };
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const vmInit: Subcommand = {
  summary: "configure a VM's cluster network (icbond0, icbr0, enc0, vint0) and its cloud-init",
  async run(argv) {
    const { values: v, positionals } = parse(argv);
    const [action] = positionals;
    if (v.help || action === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return action === undefined && !v.help ? 2 : 0;
    }
    switch (action) {
      case "apply": {
        const config = await loadConfigFile(needConfig(v));
        const result = await apply(config, targetOf(v));
        print(result);
        if (!result.controllerConnected && config.controller.targets.length > 0) redialInBackground(v);
        return 0;
      }
      case "redial": {
        const forS = Number(v.for ?? DEFAULT_REDIAL_S);
        if (!Number.isFinite(forS) || forS <= 0) throw new UsageError(`--for: seconds > 0, not '${v.for}'`);
        print(await redial(await loadConfigFile(needConfig(v)), targetOf(v), { forMs: forS * 1000 }));
        return 0;
      }
      case "teardown":
        print(await teardown(await loadConfigFile(needConfig(v)), targetOf(v)));
        return 0;
      case "status": {
        const config = v.config === undefined ? undefined : await loadConfigFile(v.config);
        const report = await status(targetOf(v), config);
        if (v.json) print(report);
        else process.stdout.write(statusText(report));
        return 0;
      }
      case "user-data":
        process.stdout.write(userData(await loadConfigFile(needConfig(v)), { install: installOf(v) }));
        return 0;
      case "validate":
        print(await loadConfigFile(needConfig(v)));
        return 0;
      default:
        throw new UsageError(`unknown vm-init action '${action}'\n${USAGE}`);
    }
  },
};
export default vmInit;

/**
 * `icsdn vm-init redial` on apply's config and OVS, detached: the boot goes on (a oneshot unit
 * with RemainAfterExit keeps it), and it ends once icbr0 connects or after its time.
 */
function redialInBackground(v: Values): void {
  const args = ["vm-init", "redial", "--config", needConfig(v)];
  if (v["ovs-rundir"] !== undefined) args.push("--ovs-rundir", v["ovs-rundir"]);
  if (v.netns !== undefined) args.push("--netns", v.netns);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  process.stderr.write(
    `vm-init: icbr0 did not connect; redialing its controllers in the background for ${DEFAULT_REDIAL_S} s (pid ${child.pid})\n`,
  );
}

function statusText(r: Awaited<ReturnType<typeof status>>): string {
  const lines = [`ovs: ${r.ovsRundir}${r.netns ? ` (netns ${r.netns})` : ""}`, `dpid: ${r.dpid ?? "-"}`];
  for (const b of r.bridges) {
    lines.push(
      `bridge ${b.name} [${b.datapathType || "system"}]${b.clusterId === null ? " (not vm-init's)" : ""}`,
    );
    for (const p of b.ports) {
      for (const i of p.interfaces) {
        lines.push(
          `  ${i.name.padEnd(10)} ofport ${String(i.ofport ?? "-").padEnd(6)} ${i.type || "system"}${i.error ? `  ERROR ${i.error}` : ""}`,
        );
      }
    }
    for (const c of b.controllers) {
      lines.push(
        `  controller ${c.target}: ${c.socketEstablished ? "connected" : "not connected"} (ovsdb: ${c.state ?? "-"})`,
      );
    }
  }
  for (const d of r.devices) {
    lines.push(
      `${d.name.padEnd(10)} ${d.exists ? (d.up ? "up  " : "down") : "missing"} mtu ${d.mtu ?? "-"} ${d.addresses.join(" ")}`,
    );
  }
  for (const rt of r.defaultRoutes) lines.push(`default via ${rt.via} dev ${rt.dev}`);
  return `${lines.join("\n")}\n`;
}
