/** Running commands on the machine and inside the lab's network namespaces, always with a time limit. */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { execa } from "execa";
import { LabError } from "./state.ts";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
  readonly input?: string;
  /** Throw when the command fails (default true). */
  readonly check?: boolean;
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await execa(file, args, {
    timeout: opts.timeoutMs ?? 20_000,
    env: opts.env,
    input: opts.input,
    reject: false,
    stripFinalNewline: true,
  });
  const code = res.exitCode ?? (res.timedOut ? 124 : 1);
  const out: RunResult = { code, stdout: String(res.stdout ?? ""), stderr: String(res.stderr ?? "") };
  if ((opts.check ?? true) && (code !== 0 || res.failed)) {
    const why = res.timedOut ? `timed out after ${opts.timeoutMs ?? 20_000} ms` : `exit ${code}`;
    const shown = [file, ...args].join(" ");
    throw new LabError(
      "COMMAND_FAILED",
      `${shown.length > 300 ? `${shown.slice(0, 300)}...` : shown}: ${why}\n${out.stderr || out.stdout}`.trim(),
    );
  }
  return out;
}

/** Runs a command inside a named network namespace (`ip netns exec`, which also gives it its own /sys). */
export function runIn(
  netns: string,
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return run("ip", ["netns", "exec", netns, file, ...args], opts);
}

/** Runs a `sh -e` script inside a named network namespace. */
export function scriptIn(netns: string, script: string, opts: RunOptions = {}): Promise<RunResult> {
  return runIn(netns, "sh", ["-ec", script], opts);
}

/** Quotes one word for sh. */
export function q(word: string | number): string {
  const s = String(word);
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Process ids and command lines of every process, from /proc. */
export function processes(): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      out.push({ pid: Number(entry), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The network namespace identity of a process (`net:[4026532...]`), or null when it is gone. */
export function netnsOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** Sends `signal` to each pid, then waits up to `waitMs` for all of them to be gone; SIGKILLs what is left. */
export async function killAll(pids: readonly number[], waitMs = 2_000): Promise<number[]> {
  const targets = [...new Set(pids)].filter((p) => p > 1 && p !== process.pid);
  for (const pid of targets) signal(pid, "SIGTERM");
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && targets.some(isAlive)) await sleep(25);
  for (const pid of targets.filter(isAlive)) signal(pid, "SIGKILL");
  const killDeadline = Date.now() + 2_000;
  while (Date.now() < killDeadline && targets.some(isAlive)) await sleep(25);
  return targets;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
