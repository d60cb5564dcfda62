import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import type { LinkChecker } from "./link-check.ts";

export interface SshOptions {
  readonly username: string;
  /** Path of the private key file. */
  readonly privateKeyFile: string;
  readonly port?: number;
  /** One ssh attempt's connect timeout. */
  readonly timeoutMs?: number;
  /**
   * How long connection-level failures (refused, unreachable, closed before login) are retried:
   * a new floating IP's NAT and a booting VM's sshd become ready some seconds after the server
   * is ACTIVE, in a real cloud as in the lab.
   */
  readonly connectDeadlineMs?: number;
}

/** ssh's own exit status when it could not connect or log in (the remote command never ran). */
const SSH_CONNECT_FAILED = 255;

/**
 * Logs into the moved VM over ssh (OpenSSH's client, batch mode) and pings every peer's vint0
 * from there: the cluster's links work end to end, through the tunnels, not just the rules.
 */
export class SshLinkChecker implements LinkChecker {
  readonly #o: SshOptions;

  constructor(options: SshOptions) {
    this.#o = options;
  }

  async check(host: string, peerVint0s: readonly string[]): Promise<void> {
    const addresses = peerVint0s.map((a) => a.split("/")[0]!);
    for (const a of addresses)
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new Error(`'${a}' is not an IPv4 address`);
    // One line per peer: "ok ADDR" or "fail ADDR"; ping's own output is dropped.
    const script = addresses
      .map((a) => `if ping -c 3 -i 0.2 -W 2 ${a} >/dev/null 2>&1; then echo ok ${a}; else echo fail ${a}; fi`)
      .join("; ");
    // No peers: logging in is the check (an empty command would open a shell).
    const stdout = await this.#run(host, script || "true", addresses.length);
    const failed = stdout
      .split("\n")
      .filter((l) => l.startsWith("fail "))
      .map((l) => l.slice(5));
    const ok = new Set(
      stdout
        .split("\n")
        .filter((l) => l.startsWith("ok "))
        .map((l) => l.slice(3)),
    );
    const missing = addresses.filter((a) => !ok.has(a) && !failed.includes(a));
    if (failed.length > 0 || missing.length > 0) {
      throw new Error(`${host} does not reach ${[...failed, ...missing].join(", ")}`);
    }
  }

  /** The script's stdout; connection failures are retried with backoff until the deadline. */
  async #run(host: string, script: string, peers: number): Promise<string> {
    const timeoutMs = this.#o.timeoutMs ?? 20_000;
    const deadline = Date.now() + (this.#o.connectDeadlineMs ?? 60_000);
    let attempts = 0;
    let delayMs = 250;
    for (;;) {
      attempts++;
      const result = await execa(
        "ssh",
        [
          "-i",
          this.#o.privateKeyFile,
          "-p",
          String(this.#o.port ?? 22),
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "LogLevel=ERROR",
          "-o",
          `ConnectTimeout=${Math.ceil(timeoutMs / 1000)}`,
          `${this.#o.username}@${host}`,
          script,
        ],
        { reject: false, timeout: timeoutMs + peers * 5000 },
      );
      if (result.exitCode === 0 || result.stdout) return result.stdout;
      const reason = result.stderr.split("\n").slice(-2).join(" ").trim() || `exit ${result.exitCode}`;
      if (result.exitCode !== SSH_CONNECT_FAILED || Date.now() + delayMs >= deadline) {
        throw new Error(
          `ssh ${this.#o.username}@${host} failed (exit ${result.exitCode}, ${attempts} attempt${attempts > 1 ? "s" : ""}): ${reason}`,
        );
      }
      await sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 4000);
    }
  }
}
