/**
 * The lab daemon (lab/labd.py): a detached Debian-Python process holding the lab's mininet network.
 * This module starts it and speaks its control protocol (one JSON line each way per connection).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { isAlive, sleep } from "./sh.ts";
import { LabError } from "./state.ts";

/** Mininet is in Debian's dist-packages, which only Debian's own Python sees (not a pyenv python3). */
export const PYTHON = "/usr/bin/python3";
export const LABD_SCRIPT = fileURLToPath(new URL("./labd.py", import.meta.url));

export interface DaemonReply {
  readonly ok: boolean;
  readonly error?: string;
  readonly pid?: number;
  readonly nodes?: { name: string; kind: string; pid: number; intfs: string[] }[];
}

/** Starts the daemon detached from this process (own session, output to `log`); returns its pid once it answers. */
export async function startDaemon(socket: string, log: string, timeoutMs = 20_000): Promise<number> {
  const fd = openSync(log, "a");
  const child = spawn(PYTHON, [LABD_SCRIPT, "--socket", socket], {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new LabError("DAEMON", `cannot start ${PYTHON} ${LABD_SCRIPT}`);
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? -1;
  });
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null || !isAlive(pid)) {
      throw new LabError("DAEMON", `lab daemon exited (${exited}) while starting:\n${tail(log)}`);
    }
    if (existsSync(socket)) {
      try {
        const reply = await call(socket, { op: "ping" }, 2_000);
        if (reply.ok) return pid;
      } catch {
        // not listening yet
      }
    }
    await sleep(50);
  }
  throw new LabError("DAEMON", `lab daemon did not answer within ${timeoutMs} ms:\n${tail(log)}`);
}

/** One request to the daemon; rejects when it cannot be reached or does not answer in time. */
export function call(
  socket: string,
  request: Record<string, unknown>,
  timeoutMs = 20_000,
): Promise<DaemonReply> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let data = "";
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new LabError("DAEMON", `lab daemon: no answer to ${String(request.op)} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on("data", (chunk: string) => {
      data += chunk;
    });
    conn.on("error", (err) => {
      clearTimeout(timer);
      reject(new LabError("DAEMON", `lab daemon at ${socket}: ${err.message}`));
    });
    conn.on("close", () => {
      clearTimeout(timer);
      const line = data.split("\n")[0] ?? "";
      if (!line) {
        reject(new LabError("DAEMON", `lab daemon closed without answering ${String(request.op)}`));
        return;
      }
      resolve(JSON.parse(line) as DaemonReply);
    });
  });
}

/** Like `call`, but a refusal ({ok: false}) is an error naming the operation. */
export async function must(
  socket: string,
  request: Record<string, unknown>,
  timeoutMs = 20_000,
): Promise<DaemonReply> {
  const reply = await call(socket, request, timeoutMs);
  if (!reply.ok) {
    throw new LabError("DAEMON", `lab daemon refused ${JSON.stringify(request)}: ${reply.error ?? "?"}`);
  }
  return reply;
}

export function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return `(no ${path})`;
  }
}
