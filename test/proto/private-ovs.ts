import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMessage, encodeMessage, MessageFramer, type OfpMessage } from "../../proto/index.ts";

/**
 * A private Open vSwitch (its own ovsdb-server and ovs-vswitchd, userspace datapath, files in a
 * temp dir), so proto tests can read what a real switch sends without touching the system's OVS
 * or the lab's. The bridge listens for its controller on a unix socket: we connect as that
 * controller, which makes us a primary connection that gets PACKET_IN and FLOW_REMOVED.
 */
export interface PrivateOvs {
  readonly dir: string;
  readonly bridge: string;
  /** Where the bridge waits for its controller. */
  readonly controllerSocket: string;
  ofctl(...args: string[]): string;
  vsctl(...args: string[]): string;
  stop(): void;
}

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  const res = spawnSync(cmd, args, { encoding: "utf8", env, timeout: 20_000 });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

/** Sends `sig` to `pid`; false if there is no such process. */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function startPrivateOvs(bridge = "br0"): PrivateOvs {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-ovs-"));
  const env = {
    ...process.env,
    OVS_RUNDIR: dir,
    OVS_DBDIR: dir,
    OVS_LOGDIR: dir,
    OVS_SYSCONFDIR: dir,
  };
  const db = `unix:${join(dir, "db.sock")}`;
  const pidfiles = [join(dir, "ovs-vswitchd.pid"), join(dir, "ovsdb-server.pid")];
  const stop = () => {
    const pids: number[] = [];
    for (const pidfile of pidfiles) {
      if (!existsSync(pidfile)) continue;
      const pid = Number(readFileSync(pidfile, "utf8").trim());
      if (pid > 0 && signal(pid, "SIGTERM")) pids.push(pid);
    }
    // They write their logs and database on the way out: remove the dir only once they are gone.
    const deadline = Date.now() + 5_000;
    while (pids.some((pid) => signal(pid, 0)) && Date.now() < deadline) sleepSync(20);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run("ovsdb-tool", ["create", join(dir, "conf.db"), SCHEMA], env);
    run(
      "ovsdb-server",
      [
        join(dir, "conf.db"),
        `--remote=p${db}`,
        `--pidfile=${pidfiles[1]}`,
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
        `--pidfile=${pidfiles[0]}`,
        `--unixctl=${join(dir, "ovs-vswitchd.ctl")}`,
        `--log-file=${join(dir, "ovs-vswitchd.log")}`,
        "--detach",
      ],
      env,
    );
    // OVS only listens for a controller on a unix path named after the bridge, in its rundir.
    const controllerSocket = join(dir, `${bridge}.controller`);
    run(
      "ovs-vsctl",
      [
        `--db=${db}`,
        "--timeout=20",
        "add-br",
        bridge,
        "--",
        "set",
        "bridge",
        bridge,
        "datapath_type=netdev",
        "protocols=OpenFlow13",
        "fail_mode=secure",
        "controller=@c",
        "--",
        "--id=@c",
        "create",
        "controller",
        `target="punix:${controllerSocket}"`,
        // A passive controller connection is a "service" one, without PACKET_IN, unless told otherwise.
        "type=primary",
      ],
      env,
    );
    return {
      dir,
      bridge,
      controllerSocket,
      ofctl: (...args) => run("ovs-ofctl", ["-O", "OpenFlow13", ...args], env),
      vsctl: (...args) => run("ovs-vsctl", [`--db=${db}`, "--timeout=20", ...args], env),
      stop,
    };
  } catch (err) {
    stop();
    throw err;
  }
}

/** A minimal controller connection: sends messages, keeps every decoded message it receives. */
export class TestController {
  readonly received: OfpMessage[] = [];
  /** The bytes of each received message, index for index with `received`. */
  readonly frames: Uint8Array[] = [];
  private readonly socket: Socket;
  private readonly framer = new MessageFramer();
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk) => {
      try {
        for (const bytes of this.framer.push(new Uint8Array(chunk))) {
          const m = decodeMessage(bytes);
          // Keep the switch's inactivity probe happy however long a test takes.
          if (m.type === "ECHO_REQUEST") this.send({ type: "ECHO_REPLY", xid: m.xid, data: m.data });
          this.received.push(m);
          this.frames.push(bytes.slice());
        }
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
      for (const w of [...this.waiters]) w();
    });
  }

  /** Connects (retrying while the switch creates its socket) and exchanges HELLOs. */
  static async connect(path: string, timeoutMs = 10_000): Promise<TestController> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once("error", reject);
        });
        const c = new TestController(socket);
        c.send({ type: "HELLO", xid: 1, elements: [{ kind: "VERSION_BITMAP", versions: [4] }] });
        await c.until((m) => m.type === "HELLO");
        return c;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  send(m: OfpMessage): void {
    this.socket.write(encodeMessage(m));
  }

  /** Resolves with the first received message (old or new) that satisfies `pred`. */
  async until<M extends OfpMessage>(pred: (m: OfpMessage) => m is M, timeoutMs?: number): Promise<M>;
  async until(pred: (m: OfpMessage) => boolean, timeoutMs?: number): Promise<OfpMessage>;
  async until(pred: (m: OfpMessage) => boolean, timeoutMs = 5_000): Promise<OfpMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const hit = this.received.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out; received: ${this.received.map((m) => m.type).join(", ")}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.waiters = this.waiters.filter((w) => w !== wake);
          resolve();
        };
        const t = setTimeout(wake, left);
        this.waiters.push(wake);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
