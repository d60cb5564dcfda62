import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Repository root, for monitoring/ and bin/icsdn. */
export const ROOT = join(import.meta.dirname, "../../..");

/** A fresh temp dir and its removal (call it in afterAll, even when a test failed). */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Thrown by a probe to stop waiting at once (the process being waited for has exited). */
export class GiveUp extends Error {}

/**
 * Polls `probe` until it returns a value (not undefined), for at most `timeoutMs`. Errors the probe
 * throws count as "not yet", except GiveUp, which ends the wait.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 20_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing yet";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = "no value";
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = (err as Error).message;
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A port that was free a moment ago on 127.0.0.1 (for programs that cannot report the port they bound). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

/** A child process whose output is kept (the last 64 KiB) for error messages. */
export class Child {
  readonly process: ChildProcess;
  #output = "";
  #ended = false;
  readonly exited: Promise<number | null>;

  constructor(command: string, args: readonly string[]) {
    this.process = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString("utf8")).slice(-65_536);
    };
    this.process.stdout?.on("data", keep);
    this.process.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      this.process.once("exit", (code) => {
        this.#ended = true;
        resolve(code);
      });
      // spawn failures (ENOENT) emit "error" and no "exit"
      this.process.once("error", (err) => {
        this.#ended = true;
        this.#output += `\n${err.message}`;
        resolve(null);
      });
    });
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return !this.#ended && this.process.pid !== undefined;
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running || this.process.pid === undefined) return;
    this.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.process.kill("SIGKILL");
      await this.exited;
    }
  }
}
