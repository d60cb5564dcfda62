/**
 * The lab's OpenStack clouds as processes: starts, resets and stops lab/openstack/services.sh
 * (under the caller's flock on /tmp/icsdn-openstack.lock) and removes the servers' lab VMs, which
 * live in the lab's namespaces. Everything is on 127.0.0.1; state under ICSDN_OS_ROOT
 * (default /var/lib/icsdn-openstack), whose golden copies make a reset a restart, not an install.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { deleteLink, listNetns, netnsPids, rootLinks } from "../inventory.ts";
import type { Logger } from "../log.ts";
import { names } from "../plan.ts";
import { killAll, run } from "../sh.ts";
import { LabError, labDir } from "../state.ts";
import { type OpenStackCloudPlan, openstackPlan } from "./plan.ts";

const SERVICES_SH = fileURLToPath(new URL("./services.sh", import.meta.url));

export function openstackRoot(): string {
  return process.env.ICSDN_OS_ROOT ?? "/var/lib/icsdn-openstack";
}

export function cloudsYamlPath(): string {
  return join(openstackRoot(), "clouds.yaml");
}

export interface OpenStackLab {
  /** For OS_CLIENT_CONFIG_FILE; entries lab-a, lab-a-admin, lab-b, lab-b-admin (0600, root). */
  readonly cloudsYaml: string;
  readonly clouds: OpenStackCloudPlan[];
  /** The lab whose clouds' compute and network these are. */
  readonly labName: string;
  readonly startS: number;
}

/** Starts the services for lab `labName` (which must be up); `reset` restores the golden copy first. */
export async function startOpenStack(
  labName: string,
  clouds: number,
  opts: { reset: boolean },
  log: Logger,
): Promise<OpenStackLab> {
  const plan = openstackPlan(clouds);
  const dir = labDir(labName);
  if (!existsSync(join(dir, "state.json"))) {
    throw new LabError("NO_LAB", `lab '${labName}' is not up: its OpenStack clouds need its network`);
  }
  const planFile = join(dir, "openstack-plan.json");
  writeFileSync(planFile, `${JSON.stringify({ clouds: plan }, null, 2)}\n`);
  if (opts.reset) await removeServerVms(labName);
  const started = Date.now();
  const res = await execa("bash", [SERVICES_SH, "up", ...(opts.reset ? ["--reset"] : [])], {
    env: {
      ICSDN_OS_ROOT: openstackRoot(),
      ICSDN_OS_CLOUDS: String(clouds),
      ICSDN_OS_PLAN: planFile,
      ICSDN_LAB_NAME: labName,
      ICSDN_LAB_DIR: dir,
    },
    timeout: 900_000,
    reject: false,
    all: true,
  });
  for (const line of String(res.all ?? "").split("\n")) if (line) log(line);
  if (res.exitCode !== 0) {
    throw new LabError(
      "OPENSTACK",
      `the lab's OpenStack services did not start (exit ${res.exitCode}); logs in ${openstackRoot()}/logs`,
    );
  }
  return { cloudsYaml: cloudsYamlPath(), clouds: plan, labName, startS: (Date.now() - started) / 1000 };
}

/** Stops every service by its pid file and process group; works after a SIGKILL of anything. */
export async function stopOpenStack(log: Logger): Promise<void> {
  if (!existsSync(join(openstackRoot(), "run"))) return;
  const res = await execa("bash", [SERVICES_SH, "down"], {
    env: { ICSDN_OS_ROOT: openstackRoot() },
    timeout: 120_000,
    reject: false,
    all: true,
  });
  for (const line of String(res.all ?? "").split("\n")) if (line) log(line);
  if (res.exitCode !== 0)
    throw new LabError("OPENSTACK", `stopping the OpenStack services failed (exit ${res.exitCode})`);
}

/** Whether any service has a pid file (running, or killed and not yet cleaned up). */
export function openstackStarted(): boolean {
  const dir = join(openstackRoot(), "run");
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith(".pid"));
}

/** The lab VMs of servers (namespaces `<prefix>s...`, root NIC ends `<prefix>v...`): all of them go. */
export async function removeServerVms(labName: string): Promise<string[]> {
  const prefix = names(labName).prefix;
  const gone: string[] = [];
  for (const ns of (await listNetns()).filter((n) => n.startsWith(`${prefix}s`))) {
    await killAll(await netnsPids(ns), 1_000);
    await run("ip", ["netns", "delete", ns], { check: false });
    gone.push(ns);
  }
  for (const link of (await rootLinks()).filter((l) => l.startsWith(`${prefix}v`))) await deleteLink(link);
  return gone;
}

/** The passwords of the clouds' users (from the 0600 file next to clouds.yaml). */
export function openstackPasswords(): Record<string, string> {
  const text = readFileSync(join(openstackRoot(), "passwords.env"), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}
