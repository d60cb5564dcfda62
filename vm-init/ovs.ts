import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { VmInitError } from "./errors.ts";
import type { OvsObserved } from "./model.ts";
import { ovsReadArgs, parseOvsRead } from "./ovs-observed.ts";
import type { OvsCommand } from "./ovs-plan.ts";
import type { Shell } from "./shell.ts";

/** Seconds ovs-vsctl may wait for the database and for ovs-vswitchd: apply must never hang. */
const OVS_TIMEOUT_S = 5;

/**
 * Fails fast, with the path in the message, when there is no OVS to talk to: no database socket,
 * no running ovs-vswitchd. Costs no process spawn. Returns ovs-vswitchd's pid.
 */
export async function checkOvsReachable(sh: Shell): Promise<number> {
  await checkDbSocket(sh);
  // Every way OVS is started (Debian's ovs-ctl, the lab, the test sandbox) writes this pidfile,
  // and ovs-vswitchd removes it when it exits. Without the daemon a waited-for transaction would
  // only time out, after the database had already taken it.
  const pidfile = join(sh.ovsRundir, "ovs-vswitchd.pid");
  const pid = await vswitchdPid(sh);
  if (pid === undefined) {
    throw new VmInitError("OVS_UNAVAILABLE", `ovs-vswitchd is not running (no pidfile ${pidfile})`);
  }
  if (!isAlive(pid)) {
    throw new VmInitError(
      "OVS_UNAVAILABLE",
      `ovs-vswitchd is not running (pid ${pid} from ${pidfile} is gone)`,
    );
  }
  return pid;
}

/** The database socket exists (ovs-vsctl would otherwise retry until its timeout). */
export async function checkDbSocket(sh: Shell): Promise<void> {
  const sock = join(sh.ovsRundir, "db.sock");
  try {
    await stat(sock);
  } catch {
    throw new VmInitError(
      "OVS_UNAVAILABLE",
      `Open vSwitch database socket ${sock} not found: is ovsdb-server running? (set OVS_RUNDIR or --ovs-rundir)`,
    );
  }
}

/** ovs-vswitchd's pid from its pidfile, if there is one. */
export async function vswitchdPid(sh: Shell): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(join(sh.ovsRundir, "ovs-vswitchd.pid"), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Bridges, ports, interfaces and controllers in one ovs-vsctl run. */
export async function readOvs(sh: Shell): Promise<OvsObserved> {
  const { stdout } = await sh.run(
    "ovs-vsctl",
    [`--timeout=${OVS_TIMEOUT_S}`, ...ovsReadArgs()],
    "OVS_COMMAND_FAILED",
    {
      what: "read the OVS configuration",
    },
  );
  return parseOvsRead(stdout);
}

/**
 * Runs `commands` as one ovs-vsctl transaction (all or nothing). With `wait`, returns once
 * ovs-vswitchd has applied it, so the internal devices exist for `ip`.
 */
export async function ovsTransaction(
  sh: Shell,
  commands: readonly OvsCommand[],
  opts: { wait: boolean; what: string },
): Promise<void> {
  if (commands.length === 0) return;
  const args = [
    `--timeout=${OVS_TIMEOUT_S}`,
    ...(opts.wait ? [] : ["--no-wait"]),
    ...commands.flatMap((c) => ["--", ...c]),
  ];
  await sh.run("ovs-vsctl", args, "OVS_COMMAND_FAILED", { what: opts.what });
}
