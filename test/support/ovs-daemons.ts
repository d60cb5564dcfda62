import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A private ovsdb-server and ovs-vswitchd with every file in a temp dir, nothing shared with the
 * system's OVS or the lab's. Tests build bridges on it. `stopAllOvsDaemons()` (afterEach) and an
 * exit hook remove whatever a failed test left.
 */
export interface OvsDaemons {
  readonly dir: string;
  /** `unix:<dir>/db.sock` */
  readonly db: string;
  vsctl(...args: string[]): string;
  ofctl(...args: string[]): string;
  /** Freezes ovs-vswitchd (SIGSTOP), as a switch that hangs; `resume` thaws it. */
  pause(): void;
  resume(): void;
  stop(): void;
}

export interface OvsDaemonsOptions {
  /** Temp dir name prefix. */
  readonly prefix: string;
  /**
   * OVS's testsuite datapath (`--enable-dummy`): no tap devices, so several instances live side
   * by side in one network namespace (the netdev datapath would each want the same `ovs-netdev`).
   */
  readonly dummyDatapath?: boolean;
}

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
const live = new Set<OvsDaemons>();
let hooked = false;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  const res = spawnSync(cmd, args, { encoding: "utf8", env, timeout: 20_000 });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Running, not a zombie: a daemon that exited stays <defunct> until init reaps it, maybe later. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function startOvsDaemons(options: OvsDaemonsOptions): OvsDaemons {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir, OVS_SYSCONFDIR: dir };
  const db = `unix:${join(dir, "db.sock")}`;
  const pidfiles = { vswitchd: join(dir, "ovs-vswitchd.pid"), ovsdb: join(dir, "ovsdb-server.pid") };
  const pidOf = (file: string) => (existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : 0);
  let stopped = false;
  const daemons: OvsDaemons = {
    dir,
    db,
    vsctl: (...args) => run("ovs-vsctl", [`--db=${db}`, "--timeout=20", ...args], env),
    ofctl: (...args) => run("ovs-ofctl", ["-O", "OpenFlow13", ...args], env),
    pause: () => void signal(pidOf(pidfiles.vswitchd), "SIGSTOP"),
    resume: () => void signal(pidOf(pidfiles.vswitchd), "SIGCONT"),
    stop() {
      if (stopped) return;
      stopped = true;
      live.delete(daemons);
      const pids: number[] = [];
      for (const file of [pidfiles.vswitchd, pidfiles.ovsdb]) {
        const pid = pidOf(file);
        // A paused vswitchd must be thawed to handle SIGTERM.
        if (pid > 0 && signal(pid, "SIGCONT") && signal(pid, "SIGTERM")) pids.push(pid);
      }
      // They write their logs and database on the way out: remove the dir only once they are gone.
      const deadline = Date.now() + 5_000;
      while (pids.some(alive) && Date.now() < deadline) sleepSync(20);
      for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(daemons);
  reapAfter(process.pid, dir, [pidfiles.vswitchd, pidfiles.ovsdb]);
  if (!hooked) {
    hooked = true;
    process.on("exit", stopAllOvsDaemons);
  }
  try {
    run("ovsdb-tool", ["create", join(dir, "conf.db"), SCHEMA], env);
    run(
      "ovsdb-server",
      [
        join(dir, "conf.db"),
        `--remote=p${db}`,
        `--pidfile=${pidfiles.ovsdb}`,
        `--unixctl=${join(dir, "ovsdb-server.ctl")}`,
        `--log-file=${join(dir, "ovsdb-server.log")}`,
        "--detach",
      ],
      env,
    );
    run(
      "ovs-vswitchd",
      [
        db,
        `--pidfile=${pidfiles.vswitchd}`,
        `--unixctl=${join(dir, "ovs-vswitchd.ctl")}`,
        `--log-file=${join(dir, "ovs-vswitchd.log")}`,
        ...(options.dummyDatapath ? ["--enable-dummy=override", "--disable-system"] : []),
        "--detach",
      ],
      env,
    );
    return daemons;
  } catch (err) {
    daemons.stop();
    throw err;
  }
}

/** Stops every private OVS still running (call in afterEach; also runs at exit). */
export function stopAllOvsDaemons(): void {
  for (const d of [...live]) d.stop();
}

/**
 * A detached watchdog: once `parent` is gone (a test worker SIGKILLed by a timeout or a mutation
 * run, where no exit hook runs) and the daemons' dir still exists, it stops them and removes the
 * dir. It ends by itself when `stop()` removed the dir first.
 */
function reapAfter(parent: number, dir: string, pidfiles: readonly string[]): void {
  const script = `
    parent=$1; dir=$2; shift 2
    while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
    [ -d "$dir" ] || exit 0
    for f in "$@"; do p=$(cat "$f" 2>/dev/null) && kill -CONT "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null; done
    sleep 2
    for f in "$@"; do p=$(cat "$f" 2>/dev/null) && kill -KILL "$p" 2>/dev/null; done
    rm -rf "$dir"`;
  spawn("sh", ["-c", script, "reaper", String(parent), dir, ...pidfiles], {
    detached: true,
    stdio: "ignore",
  }).unref();
}
