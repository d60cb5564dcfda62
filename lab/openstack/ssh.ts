/** ssh into a lab cloud's servers: a throwaway key pair, and `ssh root@IP CMD` with it. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunResult, run } from "../sh.ts";

export interface KeyPair {
  readonly dir: string;
  readonly privateKey: string;
  readonly publicKey: string;
  remove(): void;
}

/** An ed25519 key pair in a fresh temp folder (`remove` deletes it). */
export async function makeKeyPair(): Promise<KeyPair> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-os-key-"));
  const privateKey = join(dir, "id");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", privateKey]);
  return {
    dir,
    privateKey,
    publicKey: readFileSync(`${privateKey}.pub`, "utf8").trim(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** ssh root@host CMD with the key (no host key checks: a lab VM's key is new every boot). */
export function ssh(host: string, key: string, cmd: string, timeoutMs = 15_000): Promise<RunResult> {
  return run(
    "ssh",
    [
      "-i",
      key,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=3",
      "-o",
      "LogLevel=ERROR",
      `root@${host}`,
      cmd,
    ],
    { check: false, timeoutMs },
  );
}
