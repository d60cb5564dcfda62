/** A real OpenSSH server on loopback for the ssh link check's tests: its own host key, config and authorized keys. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Sshd {
  readonly port: number;
  /** The host key, as an OpenSSH public key line. */
  readonly hostPublicKey: string;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  readonly hostFingerprint: string;
  stop(): Promise<void>;
}

/** An ed25519 key pair (no passphrase unless given) in `dir`; returns the private key's path. */
export function makeKey(dir: string, name: string, passphrase = ""): string {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", file]);
  return file;
}

/** A loopback port nobody listens on (now). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const address = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Starts `sshd -D` on `port` letting root in with the keys whose public halves are `authorized`. */
export async function startSshd(options: { authorized: readonly string[]; port?: number }): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-sshd-"));
  const hostKey = makeKey(dir, "host");
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, options.authorized.map((k) => readFileSync(`${k}.pub`, "utf8")).join(""));
  const port = options.port ?? (await freePort());
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorized}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "",
    ].join("\n"),
  );
  const proc: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      if (log.includes("Server listening on")) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`sshd exited (${code}): ${log}`)));
  });
  const hostPublicKey = readFileSync(`${hostKey}.pub`, "utf8").trim();
  const hostFingerprint = execFileSync("ssh-keygen", ["-l", "-f", `${hostKey}.pub`], {
    encoding: "utf8",
  }).split(" ")[1]!;
  return {
    port,
    hostPublicKey,
    hostFingerprint,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
