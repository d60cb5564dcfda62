import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { execa } from "execa";
import { VmInitError } from "./errors.ts";
import { DEFAULT_OVS_RUNDIR } from "./names.ts";

/** Where the OVS and the network devices vm-init configures live. */
export interface Target {
  /** The OVS to configure: the folder of its db.sock and ovs-vswitchd.pid. Default: $OVS_RUNDIR, else Debian's. */
  ovsRundir?: string;
  /**
   * Network namespace of the devices, when vm-init runs outside it (the lab driving a lab VM
   * from the host). ip gets `-n`, ethtool runs under `ip netns exec`. Default: our own.
   */
  netns?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** The one door to child processes: counts spawns, reports failures typed. */
export class Shell {
  readonly ovsRundir: string;
  readonly netns: string | undefined;
  spawns = 0;

  constructor(target: Target = {}) {
    this.ovsRundir = target.ovsRundir ?? process.env.OVS_RUNDIR ?? DEFAULT_OVS_RUNDIR;
    this.netns = target.netns;
  }

  /** Runs `file args`; on failure throws VmInitError `code` with the tool's own stderr. */
  async run(
    file: string,
    args: readonly string[],
    code: "IP_COMMAND_FAILED" | "ETHTOOL_FAILED",
    opts: { input?: string; what: string },
  ): Promise<RunResult> {
    this.spawns++;
    try {
      const r = await execa(file, args, {
        ...(opts.input === undefined ? {} : { input: opts.input }),
        stripFinalNewline: false,
      });
      return { stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      throw toVmInitError(err, file, code, opts.what);
    }
  }

  /**
   * Starts `file args` with pipes and returns it at once, without execa's extra work (about 2 ms
   * per process): for a process that lives through several steps (IpSession).
   */
  start(file: string, args: readonly string[]): ChildProcessWithoutNullStreams {
    this.spawns++;
    return spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
  }

  /** `ip` with this target's namespace. */
  ipArgs(args: readonly string[]): string[] {
    return this.netns === undefined ? [...args] : ["-n", this.netns, ...args];
  }

  /** A command line that runs `file args` in this target's namespace. */
  inNetns(file: string, args: readonly string[]): [string, string[]] {
    return this.netns === undefined
      ? [file, [...args]]
      : ["ip", ["netns", "exec", this.netns, file, ...args]];
  }
}

interface ExecFailure {
  code?: string;
  exitCode?: number;
  signal?: string;
  stderr?: unknown;
  shortMessage?: string;
}

function toVmInitError(
  err: unknown,
  file: string,
  code: "IP_COMMAND_FAILED" | "ETHTOOL_FAILED",
  what: string,
): VmInitError {
  const e = (typeof err === "object" && err !== null ? err : {}) as ExecFailure;
  if (e.code === "ENOENT") {
    return new VmInitError("COMMAND_NOT_FOUND", `${file} is not installed (needed to ${what})`, {
      cause: err,
    });
  }
  const stderr = typeof e.stderr === "string" ? e.stderr.trim() : "";
  const detail = stderr || e.shortMessage || String(err);
  return new VmInitError(code, `${file} failed to ${what}: ${detail}`, { cause: err });
}
