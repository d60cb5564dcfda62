/**
 * One ssh session to a VM (the ssh2 package: no OpenSSH binary, one connection for many commands).
 * Opening it retries until a deadline: a new floating IP's NAT and a booting VM's sshd (and its
 * authorized_keys, written by cloud-init after sshd starts) are ready some seconds after the server
 * is ACTIVE, in a real cloud as in the lab.
 *
 * Host keys: a VM's host key is new at every boot, so no known_hosts can hold it. Given `hostKeys`
 * (the keys the cloud reports: cloud-init's block in the console log), only those are accepted. Without them, the first key the host presents is pinned for every later attempt of
 * this session, so a retry cannot land on another machine unnoticed, and its fingerprint is
 * returned for the caller to record.
 *
 * Errors are MediationErrors naming the user, host and port and what failed; never the key's
 * contents (the key file's path only).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import { pollUntil } from "../clouds/poll.ts";
import { MediationError } from "../errors.ts";

export interface SshSessionOptions {
  readonly username: string;
  /** Path of the private key file (OpenSSH or PEM format, no passphrase). */
  readonly privateKeyFile: string;
  readonly port?: number;
  /** One attempt's budget: TCP connect, handshake and login. */
  readonly connectTimeoutMs?: number;
  /** How long failed attempts (no connection, no handshake, key refused) are retried. */
  readonly connectDeadlineMs?: number;
  /** The only host keys to accept, as OpenSSH public key lines (`ssh-ed25519 AAAA... [comment]`). */
  readonly hostKeys?: readonly string[];
  /** Stops the retries (a cancel). */
  readonly signal?: AbortSignal;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** OpenSSH's fingerprint of a host key blob: `SHA256:` and the unpadded base64 digest. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key blobs of OpenSSH public key lines (`TYPE BASE64 [comment]`); lines that are not one are skipped. */
export function keyBlobs(lines: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const line of lines) {
    const m = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,2})(\s|$)/.exec(
      line.trim(),
    );
    if (m) out.push(Buffer.from(m[2]!, "base64"));
  }
  return out;
}

/** How the last attempt failed: what decides the error once the deadline is reached. */
interface Failure {
  readonly kind: "connect" | "auth";
  readonly reason: string;
}

export class SshSession {
  /** The fingerprint of the host key the session was opened with. */
  readonly hostKey: string;
  /** `ssh user@host:port`, what errors start with. */
  readonly where: string;
  readonly #client: Client;
  #ended = false;

  constructor(client: Client, hostKey: string, where: string) {
    this.#client = client;
    this.hostKey = hostKey;
    this.where = where;
    client.once("close", () => {
      this.#ended = true;
    });
  }

  /** The connection has closed (the host dropped it, or close()). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Runs `command`; its exit status is the caller's to judge. Over `timeoutMs`, the session is closed. */
  exec(command: string, timeoutMs: number): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => {
        // Not end(): a host that hangs would keep the socket until its own timeout.
        this.#client.destroy();
        reject(
          new MediationError(
            "SSH_TIMEOUT",
            `${this.where}: the command did not finish within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          clearTimeout(timer);
          reject(
            new MediationError(
              "SSH_UNREACHABLE",
              `${this.where}: no channel for the command: ${err.message}`,
            ),
          );
          return;
        }
        stream.on("data", (d: Buffer) => {
          stdout += d.toString("utf8");
        });
        stream.stderr.on("data", (d: Buffer) => {
          stderr += d.toString("utf8");
        });
        stream.on("close", (code: number | null | undefined) => {
          clearTimeout(timer);
          if (typeof code === "number") resolve({ stdout, stderr, exitCode: code });
          else
            reject(
              new MediationError(
                "SSH_UNREACHABLE",
                `${this.where}: the connection ended before the command did`,
              ),
            );
        });
      });
    });
  }

  close(): void {
    this.#client.end();
  }
}

/** Opens a session to `host`, retrying failed attempts with backoff (pollUntil) until the deadline. */
export async function openSsh(host: string, o: SshSessionOptions): Promise<SshSession> {
  const port = o.port ?? 22;
  const where = `ssh ${o.username}@${host}:${port}`;
  const privateKey = await loadKey(o.privateKeyFile);
  // Loaded here, not at the top: ssh2 costs about 19 MB of resident memory in a service that
  // may never check a link.
  const { Client } = await loadSsh2();
  const expected = o.hostKeys ? keyBlobs(o.hostKeys) : undefined;
  if (expected?.length === 0)
    throw new MediationError("SSH_HOST_KEY", `${where}: none of the expected host keys is an ssh public key`);
  let pinned: Buffer | undefined;
  let refused: string | undefined;
  let last: Failure | undefined;
  let attempts = 0;
  const started = Date.now();
  const config: ConnectConfig = {
    host,
    port,
    username: o.username,
    privateKey,
    authHandler: ["publickey"],
    readyTimeout: o.connectTimeoutMs ?? 20_000,
    hostVerifier: (key: Buffer) => {
      const ok = expected ? expected.some((k) => k.equals(key)) : pinned ? pinned.equals(key) : true;
      if (!ok) refused = fingerprint(key);
      else pinned ??= key;
      return ok;
    },
  };
  const client = await pollUntil(
    async () => {
      attempts++;
      try {
        return await attempt(new Client(), config);
      } catch (err) {
        if (refused !== undefined) {
          const want = expected
            ? `one of ${expected.map(fingerprint).join(", ")}`
            : `${fingerprint(pinned!)} (the key of its first answer)`;
          throw new MediationError("SSH_HOST_KEY", `${where}: host key ${refused} is not ${want}`);
        }
        const e = err as Error & { level?: string };
        last = { kind: e.level === "client-authentication" ? "auth" : "connect", reason: e.message };
        return undefined;
      }
    },
    {
      deadlineMs: o.connectDeadlineMs ?? 60_000,
      // A booting VM's sshd comes up at a moment nobody announces: retried often enough that a
      // login prepared while the VM boots is not seconds late (it was up to 4 s apart).
      firstDelayMs: 250,
      maxDelayMs: 1000,
      what: where,
      ...(o.signal && { signal: o.signal }),
      onTimeout: () => {
        const tries = `${attempts} attempt${attempts === 1 ? "" : "s"} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
        return last?.kind === "auth"
          ? new MediationError(
              "SSH_AUTH",
              `${where}: the key ${o.privateKeyFile} was refused (${tries}): ${last.reason}`,
            )
          : new MediationError(
              "SSH_UNREACHABLE",
              `${where}: no session (${tries}): ${last?.reason ?? "no attempt"}`,
            );
      },
    },
  );
  return new SshSession(client, fingerprint(pinned!), where);
}

/** One attempt: resolves with the logged-in client, or rejects with ssh2's error (its `level` says which stage). */
function attempt(client: Client, config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    // Kept for the session's life: an 'error' event without a listener would crash the process;
    // a session's exec learns of a dropped connection from its channel closing.
    client.on("error", fail);
    client.once("close", () => fail(new Error("the connection closed before login")));
    client.once("ready", () => {
      settled = true;
      resolve(client);
    });
    client.connect(config);
  });
}

async function loadKey(file: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    throw new MediationError(
      "SSH_KEY",
      `cannot read the ssh key file ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
  const { utils } = await loadSsh2();
  const parsed = utils.parseKey(key);
  // ssh2's messages name the format problem ("Encrypted private OpenSSH key detected, but no
  // passphrase given"), never the key.
  if (parsed instanceof Error)
    throw new MediationError("SSH_KEY", `the ssh key file ${file} is not usable: ${parsed.message}`);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first?.isPrivateKey())
    throw new MediationError("SSH_KEY", `the ssh key file ${file} holds no private key`);
  return key;
}

/**
 * ssh2 is CommonJS: Node's ESM import finds only some of its names (not `utils`), so everything
 * is taken from its `module.exports`, as Node hands it over as `default`.
 */
async function loadSsh2(): Promise<typeof import("ssh2")> {
  return (await import("ssh2")).default;
}
