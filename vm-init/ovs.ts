import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { VmInitError } from "./errors.ts";
import { VswitchDb } from "./ovsdb/vswitch.ts";

/** Milliseconds OVSDB and ovs-vswitchd may take to answer or to apply a change: apply must never hang. */
export const OVS_TIMEOUT_MS = 5000;

/** Connects to `<rundir>/db.sock` and reads vm-init's tables (OVS_UNAVAILABLE, naming the socket, if absent). */
export function openOvs(rundir: string): Promise<VswitchDb> {
  return VswitchDb.open(rundir, { timeoutMs: OVS_TIMEOUT_MS });
}

/**
 * ovs-vswitchd's pid, failing fast when it is not running: every way OVS is started (Debian's
 * ovs-ctl, the lab, the test sandbox) writes this pidfile, and ovs-vswitchd removes it when it
 * exits. Without the daemon a waited-for transaction would only time out, after the database
 * had already taken it.
 */
export function checkVswitchd(rundir: string): number {
  const pidfile = join(rundir, "ovs-vswitchd.pid");
  const pid = vswitchdPidNow(rundir);
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

/** ovs-vswitchd's pid from its pidfile, if there is one. */
export async function vswitchdPid(rundir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(join(rundir, "ovs-vswitchd.pid"), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The same, read synchronously (a few microseconds), for the very start of apply. */
export function vswitchdPidNow(rundir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(rundir, "ovs-vswitchd.pid"), "utf8"), 10);
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
