import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDpid } from "../../../../controller/model/dpid.ts";

/**
 * A private Open vSwitch playing one VM's icbr0 (files in a temp dir, nothing shared with the
 * system's OVS or the lab's): enc0 (vxlan, remote_ip=flow, key=flow) as ofport 1, vint0
 * (internal) as ofport 2, fail_mode=secure, OpenFlow 1.3, the member's dpid, and a controller
 * target it connects to actively (tcp: or ssl:). ovs-vswitchd runs with OVS's dummy datapath
 * (--enable-dummy, as OVS's own testsuite does): the OpenFlow side is the real one, while no tap
 * device is created, so several instances live side by side in this network namespace (the
 * netdev datapath would each want the same `ovs-netdev` tap). Names are unique per instance anyway. `stopAllOvs()` (afterEach) and an exit hook remove what a failed test left.
 */
export interface OvsSwitch {
  readonly dir: string;
  readonly bridge: string;
  readonly dpid: bigint;
  /** `ovs-ofctl -O OpenFlow13 dump-flows`, one line per flow, the reply header dropped. */
  dumpFlows(): string[];
  vsctl(...args: string[]): string;
  ofctl(...args: string[]): string;
  /** Freezes ovs-vswitchd (SIGSTOP), as a switch that hangs; `resume` thaws it. */
  pause(): void;
  resume(): void;
  stop(): void;
}

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
const live = new Set<OvsSwitch>();
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

export interface OvsSwitchOptions {
  readonly dpid: bigint;
  /** `tcp:127.0.0.1:PORT` or `ssl:127.0.0.1:PORT`. */
  readonly target: string;
  /** For ssl: targets: the switch's key, certificate and the CA it trusts for the controller. */
  readonly ssl?: { readonly key: string; readonly cert: string; readonly ca: string };
  /** Bridge `protocols` (default OpenFlow13). */
  readonly protocols?: string;
}

export function startOvsSwitch(options: OvsSwitchOptions): OvsSwitch {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-ofovs-"));
  const tag = randomBytes(3).toString("hex");
  const bridge = `ofb${tag}`;
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir, OVS_SYSCONFDIR: dir };
  const db = `unix:${join(dir, "db.sock")}`;
  const pidfiles = { vswitchd: join(dir, "ovs-vswitchd.pid"), ovsdb: join(dir, "ovsdb-server.pid") };
  const pidOf = (file: string) => (existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : 0);
  const vsctl = (...args: string[]) => run("ovs-vsctl", [`--db=${db}`, "--timeout=20", ...args], env);
  const ofctl = (...args: string[]) => run("ovs-ofctl", ["-O", "OpenFlow13", ...args], env);
  let stopped = false;
  const sw: OvsSwitch = {
    dir,
    bridge,
    dpid: options.dpid,
    vsctl,
    ofctl,
    dumpFlows: () =>
      ofctl("dump-flows", bridge)
        .split("\n")
        .filter((l) => l.startsWith(" ")),
    pause: () => void signal(pidOf(pidfiles.vswitchd), "SIGSTOP"),
    resume: () => void signal(pidOf(pidfiles.vswitchd), "SIGCONT"),
    stop() {
      if (stopped) return;
      stopped = true;
      live.delete(sw);
      const pids: number[] = [];
      for (const file of [pidfiles.vswitchd, pidfiles.ovsdb]) {
        const pid = pidOf(file);
        // A paused vswitchd must be thawed to handle SIGTERM.
        if (pid > 0 && signal(pid, "SIGCONT") && signal(pid, "SIGTERM")) pids.push(pid);
      }
      const deadline = Date.now() + 5_000;
      while (pids.some(alive) && Date.now() < deadline) sleepSync(20);
      for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(sw);
  if (!hooked) {
    hooked = true;
    process.on("exit", stopAllOvs);
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
        // OVS's own testsuite datapath: no tap devices, so instances share this namespace.
        "--enable-dummy=override",
        "--disable-system",
        "--detach",
      ],
      env,
    );
    if (options.ssl) vsctl("set-ssl", options.ssl.key, options.ssl.cert, options.ssl.ca);
    vsctl(
      "add-br",
      bridge,
      "--",
      "set",
      "bridge",
      bridge,
      "datapath_type=dummy",
      `protocols=${options.protocols ?? "OpenFlow13"}`,
      "fail_mode=secure",
      `other-config:datapath-id=${formatDpid(options.dpid)}`,
      "other-config:disable-in-band=true",
      "--",
      "add-port",
      bridge,
      `ofe${tag}`,
      "--",
      "set",
      "interface",
      `ofe${tag}`,
      "type=vxlan",
      "options:remote_ip=flow",
      "options:key=flow",
      "ofport_request=1",
      "--",
      "add-port",
      bridge,
      `ofv${tag}`,
      "--",
      "set",
      "interface",
      `ofv${tag}`,
      "type=internal",
      "ofport_request=2",
      "--",
      "set",
      "bridge",
      bridge,
      "controller=@c",
      "--",
      "--id=@c",
      "create",
      "controller",
      `target="${options.target}"`,
      // Come back within a second after a controller restart.
      "max_backoff=1000",
    );
    return sw;
  } catch (err) {
    sw.stop();
    throw err;
  }
}

/** Stops every private OVS still running (call in afterEach; also runs at exit). */
export function stopAllOvs(): void {
  for (const sw of [...live]) sw.stop();
}

/** Flow lines without the counters that change by themselves (duration, packets, bytes, idle age). */
export function stableFlows(lines: readonly string[]): string[] {
  return lines
    .map((l) =>
      l
        .replace(/ duration=[^,]+,/, "")
        .replace(/ n_packets=\d+,/, "")
        .replace(/ n_bytes=\d+,/, "")
        .replace(/ idle_age=\d+,/, "")
        .trim(),
    )
    .sort();
}

/** Each flow's duration in seconds, keyed by the flow without counters. */
export function durations(lines: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = / duration=([\d.]+)s,/.exec(l);
    if (m) out.set(stableFlows([l])[0]!, Number(m[1]));
  }
  return out;
}

/** What `ovs-ofctl add-flows` makes of our own text form of the compiled rules, on a scratch bridge. */
export function referenceFlows(sw: OvsSwitch, rules: readonly string[]): string[] {
  const bridge = `ref${sw.bridge.slice(3)}`;
  sw.vsctl(
    "--may-exist",
    "add-br",
    bridge,
    "--",
    "set",
    "bridge",
    bridge,
    "datapath_type=dummy",
    "fail_mode=secure",
  );
  sw.ofctl("del-flows", bridge);
  const file = join(sw.dir, "reference.flows");
  writeFileSync(file, `${rules.join("\n")}\n`);
  sw.ofctl("add-flows", bridge, file);
  return stableFlows(
    sw
      .ofctl("dump-flows", bridge)
      .split("\n")
      .filter((l) => l.startsWith(" ")),
  );
}
