import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { VmInitError } from "./errors.ts";
import { IP_READ_LINES, kernelFrom } from "./ip-observed.ts";
import type { KernelObserved } from "./model.ts";
import { JsonSplitter } from "./ovsdb/json-stream.ts";
import type { Shell } from "./shell.ts";

/** How long one read, or the changes and the exit, may take before ip is presumed stuck. */
const IP_TIMEOUT_MS = 10_000;
/**
 * Written after the changes: ip prints its (JSON) answer only if every line before it worked, as
 * ip stops at the first failing line. Seeing it is quicker than waiting for ip to exit (~1.5 ms).
 */
const MARKER = "route show table main default";

/**
 * One `ip -j -batch -` process for a whole apply. `ip` runs each line as it arrives on stdin and
 * flushes what it prints, so one process, started while something else is waited for (the OVSDB
 * read, or on a fresh machine ovs-vswitchd building the bridges), serves the read, any re-read,
 * and finally the changes; closing stdin ends it, and its exit status says whether every change
 * worked. One process instead of two, and no process start on the critical path. The changes are
 * known done when ip answers a read written after them (MARKER), without waiting for the exit.
 */
export class IpSession {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #splitter = new JsonSplitter(16 * 1024 * 1024);
  /** Every line written so far: ip's "Command failed -:N" counts them all. */
  readonly #sent: string[] = [];
  readonly #docs: string[] = [];
  readonly #exited: Promise<number | null>;
  #wake: (() => void) | undefined;
  #stderr = "";
  #failure: VmInitError | undefined;
  #ended = false;

  private constructor(proc: ChildProcessWithoutNullStreams) {
    this.#proc = proc;
    proc.stdout.setEncoding("utf8");
    proc.stderr.setEncoding("utf8");
    proc.stdout.on("data", (chunk: string) => {
      try {
        this.#docs.push(...this.#splitter.push(chunk));
      } catch (err) {
        this.#failure ??=
          err instanceof VmInitError ? err : new VmInitError("IP_COMMAND_FAILED", String(err));
      }
      this.#wake?.();
    });
    proc.stderr.on("data", (chunk: string) => {
      this.#stderr += chunk;
    });
    // A closed pipe (ip gone) is reported through the exit status, not as an unhandled error.
    proc.stdin.on("error", () => {});
    this.#exited = new Promise((resolve) => {
      proc.on("error", (err: NodeJS.ErrnoException) => {
        this.#failure ??=
          err.code === "ENOENT"
            ? new VmInitError(
                "COMMAND_NOT_FOUND",
                "ip is not installed (needed to configure addresses and routes)",
                {
                  cause: err,
                },
              )
            : new VmInitError("IP_COMMAND_FAILED", `ip could not be started: ${err.message}`, { cause: err });
        resolve(null);
      });
      proc.on("close", (code) => resolve(code));
    });
    void this.#exited.then(() => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  static start(sh: Shell): IpSession {
    return new IpSession(sh.start("ip", sh.ipArgs(["-j", "-batch", "-"])));
  }

  /** Devices with their addresses, and default routes. */
  async read(): Promise<KernelObserved> {
    const first = this.#docs.length;
    this.#write(IP_READ_LINES);
    await this.#until(() => this.#docs.length >= first + 2, "read network devices and routes");
    const [addrs, routes] = this.#docs.splice(first, 2) as [string, string];
    try {
      return kernelFrom(addrs, routes);
    } catch (err) {
      throw new VmInitError("IP_COMMAND_FAILED", `ip -j printed what vm-init cannot read: ${String(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Runs `lines` and resolves once ip has done them all (it answered the MARKER written after
   * them); ip stays up for close(). ip stops at the first failing line; the error names that line.
   */
  async run(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const first = this.#docs.length;
    this.#write([...lines, MARKER]);
    try {
      await this.#until(() => this.#docs.length > first, "configure addresses and routes");
    } catch (err) {
      throw (await this.#exitError()) ?? err;
    }
    this.#docs.splice(first, 1);
  }

  /** Closes stdin and waits for ip to exit; rejects, naming the failing line, unless all worked. */
  async close(): Promise<void> {
    if (!this.#ended) this.#proc.stdin.end();
    const err = await this.#exitError();
    if (err) throw err;
  }

  /** Writes `lines`, then close(). */
  async finish(lines: readonly string[]): Promise<void> {
    this.#write(lines);
    await this.close();
  }

  /** Ends ip at once (after a failure elsewhere); nothing more is written. */
  kill(): void {
    if (!this.#ended) this.#proc.kill("SIGKILL");
  }

  /** Waits for the exit (killing a stuck ip); the error for a failed one, naming its line. */
  async #exitError(): Promise<VmInitError | undefined> {
    const timer = setTimeout(() => this.#proc.kill("SIGKILL"), IP_TIMEOUT_MS);
    const code = await this.#exited.finally(() => clearTimeout(timer));
    if (this.#failure) return this.#failure;
    if (code === 0) return undefined;
    const stderr = this.#stderr.trim();
    const n = /Command failed -:(\d+)/.exec(stderr);
    const line = n ? this.#sent[Number(n[1]) - 1] : undefined;
    const detail = stderr.replace(/\s+/g, " ") || `exit status ${code ?? "signal"}`;
    return new VmInitError(
      "IP_COMMAND_FAILED",
      line === undefined ? `ip failed to configure addresses and routes: ${detail}` : `ip ${line}: ${detail}`,
    );
  }

  #write(lines: readonly string[]): void {
    if (lines.length === 0 || this.#ended) return;
    this.#sent.push(...lines);
    this.#proc.stdin.write(`${lines.join("\n")}\n`);
  }

  async #until(ready: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + IP_TIMEOUT_MS;
    while (!ready()) {
      if (this.#failure) throw this.#failure;
      if (this.#ended) {
        const stderr = this.#stderr.trim().replace(/\s+/g, " ");
        throw new VmInitError("IP_COMMAND_FAILED", `ip failed to ${what}: ${stderr || "it exited early"}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.kill();
        throw new VmInitError("IP_COMMAND_FAILED", `ip did not ${what} within ${IP_TIMEOUT_MS} ms`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}

/** Devices, addresses and default routes in one ip process. */
export async function readKernel(sh: Shell): Promise<KernelObserved> {
  const ip = IpSession.start(sh);
  try {
    const k = await ip.read();
    await ip.finish([]);
    return k;
  } finally {
    ip.kill();
  }
}

/** Runs `lines` in one ip process; it stops at the first failing line, which the error names. */
export async function ipBatch(sh: Shell, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await IpSession.start(sh).finish(lines);
}
