import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediationError } from "../../mediation/errors.ts";
import { SshLinkChecker } from "../../mediation/ports/ssh-link-check.ts";
import { freePort, makeKey, type Sshd, startSshd } from "./support/sshd.ts";

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<MediationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MediationError);
  return err as MediationError;
}

/** A loopback port that accepts and at once closes every connection, as a VM whose sshd is not up yet. */
async function closingListener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { server, port: address.port, connections: () => n };
}

// A reserved address (240/4) nothing answers: a peer the "VM" cannot reach. (TEST-NET-1 is this
// machine's own network.)
const NOWHERE = "240.0.0.1";

describe("the ssh link check (ssh2 against a real OpenSSH server on loopback)", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-ssh-check-"));
  let key: string;
  /** A checker logging in as root with the cluster's key on `port`. */
  const checkerOn = (port: number, connectDeadlineMs?: number) =>
    new SshLinkChecker({
      username: "root",
      privateKeyFile: key,
      port,
      ...(connectDeadlineMs !== undefined && { connectDeadlineMs }),
    });
  let sshd: Sshd;

  beforeAll(async () => {
    key = makeKey(dir, "id");
    sshd = await startSshd({ authorized: [key] });
  });
  afterAll(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs in once and reaches every peer: resolves with the host key's fingerprint", async () => {
    const checker = checkerOn(sshd.port);
    const r = await checker.check("127.0.0.1", ["127.0.0.1/8", "127.0.0.2/8"]);
    expect(r).toEqual({ hostKey: sshd.hostFingerprint, hostKeySource: "first-seen" });
  }, 30_000);

  it("works in a plain Node process, as the service runs (ssh2 is CommonJS: not vitest's interop)", async () => {
    const module = pathToFileURL(join(import.meta.dirname, "../../mediation/ports/ssh-link-check.ts")).href;
    const options = { username: "root", privateKeyFile: key, port: sshd.port };
    const script = `import { SshLinkChecker } from ${JSON.stringify(module)};
      const r = await new SshLinkChecker(${JSON.stringify(options)}).check("127.0.0.1", ["127.0.0.1/8"]);
      console.log(JSON.stringify(r));`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      "--disable-warning=ExperimentalWarning",
      "--input-type=module",
      "-e",
      script,
    ]);
    expect(JSON.parse(stdout)).toEqual({ hostKey: sshd.hostFingerprint, hostKeySource: "first-seen" });
  }, 30_000);

  it("names the peer it does not reach, and only that one", async () => {
    const checker = checkerOn(sshd.port);
    const err = await rejection(checker.check("127.0.0.1", ["127.0.0.1/8", `${NOWHERE}/24`]));
    expect(err.code).toBe("LINK_CHECK_FAILED");
    expect(err.message).toBe(`127.0.0.1 does not reach ${NOWHERE}`);
    expect(err.details).toMatchObject({ host: "127.0.0.1", unreached: [NOWHERE] });
  }, 30_000);

  it("answers a refused key with SSH_AUTH after retrying until the deadline, naming host and key file, not the key", async () => {
    const wrong = makeKey(dir, "wrong");
    const checker = new SshLinkChecker({
      username: "root",
      privateKeyFile: wrong,
      port: sshd.port,
      connectDeadlineMs: 1500,
    });
    const err = await rejection(checker.check("127.0.0.1", ["127.0.0.1"]));
    expect(err.code).toBe("SSH_AUTH");
    expect(err.message).toMatch(
      new RegExp(`^ssh root@127\\.0\\.0\\.1:${sshd.port}: the key ${wrong} was refused \\([2-9] attempts in`),
    );
    const body = readFileSync(wrong, "utf8").split("\n").slice(1, -2).join("");
    expect(err.message).not.toContain(body.slice(0, 20));
  }, 30_000);

  it("retries a refused connection until the server is up, then checks", async () => {
    const port = await freePort();
    const checker = checkerOn(port, 20_000);
    const started = Date.now();
    const check = checker.check("127.0.0.1", ["127.0.0.1"]);
    await new Promise((r) => setTimeout(r, 1500));
    const late = await startSshd({ authorized: [key], port });
    try {
      expect((await check).hostKey).toBe(late.hostFingerprint);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    } finally {
      await late.stop();
    }
  }, 30_000);

  it("prepares the login while the server is not up yet (reachable once it got in); the check then runs on that session", async () => {
    const port = await freePort();
    const checker = checkerOn(port, 20_000);
    let asked = 0;
    const prepared = checker.prepare("127.0.0.1", {
      reportedHostKeys: async () => {
        asked++;
        return [];
      },
    });
    let reachedAt: number | undefined;
    void prepared.reachable().then(() => {
      reachedAt = Date.now();
    });
    await new Promise((r) => setTimeout(r, 1200));
    expect(reachedAt).toBeUndefined();
    const late = await startSshd({ authorized: [key], port });
    const upAt = Date.now();
    try {
      // Logged in by now (retried at most 1 s apart): the check only runs its command.
      await new Promise((r) => setTimeout(r, 1500));
      expect(reachedAt).toBeGreaterThanOrEqual(upAt);
      const started = Date.now();
      expect(await prepared.run(["127.0.0.1/8"])).toEqual({
        hostKey: late.hostFingerprint,
        hostKeySource: "first-seen",
      });
      expect(Date.now() - started).toBeLessThan(1000);
      // Once before the login, once after it (no key was reported before).
      expect(asked).toBe(2);
    } finally {
      prepared.close();
      await late.stop();
    }
  }, 30_000);

  it("logs in afresh at the check when the prepared login gave up (the VM was not up by its deadline)", async () => {
    const port = await freePort();
    const checker = checkerOn(port, 500);
    const prepared = checker.prepare("127.0.0.1");
    // Not reachable in time: no verdict yet (the check will try again), not a failure.
    await prepared.reachable();
    await new Promise((r) => setTimeout(r, 1000));
    const late = await startSshd({ authorized: [key], port });
    try {
      expect((await prepared.run(["127.0.0.1"])).hostKey).toBe(late.hostFingerprint);
    } finally {
      prepared.close();
      await late.stop();
    }
  }, 30_000);

  it("does not retry a prepared login the host key refused", async () => {
    const other = readFileSync(`${makeKey(dir, "prepared-other-host")}.pub`, "utf8").trim();
    const checker = checkerOn(sshd.port);
    const prepared = checker.prepare("127.0.0.1", { reportedHostKeys: async () => [other] });
    try {
      expect((await rejection(prepared.reachable())).code).toBe("SSH_HOST_KEY");
      expect((await rejection(prepared.run(["127.0.0.1"]))).code).toBe("SSH_HOST_KEY");
    } finally {
      prepared.close();
    }
  }, 30_000);

  it("gives up at the deadline with SSH_UNREACHABLE naming the host, port and attempts", async () => {
    const port = await freePort();
    const checker = checkerOn(port, 1500);
    const started = Date.now();
    const err = await rejection(checker.check("127.0.0.1", ["127.0.0.1"]));
    expect(err.code).toBe("SSH_UNREACHABLE");
    expect(err.message).toMatch(
      new RegExp(`^ssh root@127\\.0\\.0\\.1:${port}: no session \\([2-9] attempts in .*ECONNREFUSED`),
    );
    expect(Date.now() - started).toBeLessThan(5000);
  }, 30_000);

  it("retries a server that closes before the handshake; tries once when the deadline is 0", async () => {
    const l = await closingListener();
    try {
      const once = new SshLinkChecker({
        username: "root",
        privateKeyFile: key,
        port: l.port,
        connectDeadlineMs: 0,
      });
      const err = await rejection(once.check("127.0.0.1", ["127.0.0.1"]));
      expect(err.code).toBe("SSH_UNREACHABLE");
      expect(err.message).toMatch(/\(1 attempt in/);
      expect(l.connections()).toBe(1);
      const retried = new SshLinkChecker({
        username: "root",
        privateKeyFile: key,
        port: l.port,
        connectDeadlineMs: 1000,
      });
      await rejection(retried.check("127.0.0.1", ["127.0.0.1"]));
      expect(l.connections()).toBeGreaterThanOrEqual(3);
    } finally {
      l.server.close();
    }
  }, 30_000);

  it("accepts only the host keys the cloud reports when it reports some before the login", async () => {
    const other = readFileSync(`${makeKey(dir, "other-host")}.pub`, "utf8").trim();
    const checker = checkerOn(sshd.port);
    const err = await rejection(
      checker.check("127.0.0.1", ["127.0.0.1"], { reportedHostKeys: async () => [other] }),
    );
    expect(err.code).toBe("SSH_HOST_KEY");
    expect(err.message).toContain(
      `ssh root@127.0.0.1:${sshd.port}: host key ${sshd.hostFingerprint} is not one of SHA256:`,
    );
    const r = await checker.check("127.0.0.1", ["127.0.0.1"], {
      reportedHostKeys: async () => [other, sshd.hostPublicKey],
    });
    expect(r).toEqual({ hostKey: sshd.hostFingerprint, hostKeySource: "reported" });
  }, 30_000);

  it("checks the key it trusted against keys the cloud reports only after the login", async () => {
    const other = readFileSync(`${makeKey(dir, "late-host")}.pub`, "utf8").trim();
    const checker = checkerOn(sshd.port);
    /** Nothing reported at the first ask (cloud-init not done), then `later`. */
    const lateReport = (later: string[]) => {
      let asked = 0;
      return async () => (asked++ === 0 ? [] : later);
    };
    const err = await rejection(
      checker.check("127.0.0.1", ["127.0.0.1"], { reportedHostKeys: lateReport([other]) }),
    );
    expect(err.code).toBe("SSH_HOST_KEY");
    expect(err.message).toContain(`host key ${sshd.hostFingerprint} is not one the cloud reports`);
    expect(
      await checker.check("127.0.0.1", ["127.0.0.1"], { reportedHostKeys: lateReport([sshd.hostPublicKey]) }),
    ).toEqual({ hostKey: sshd.hostFingerprint, hostKeySource: "reported" });
    expect(await checker.check("127.0.0.1", ["127.0.0.1"], { reportedHostKeys: async () => [] })).toEqual({
      hostKey: sshd.hostFingerprint,
      hostKeySource: "first-seen",
    });
  }, 30_000);

  it("refuses a first-seen key when told to: waits for the cloud's report, accepts the key once reported", async () => {
    const strict = (reportedKeyWaitMs: number) =>
      new SshLinkChecker({
        username: "root",
        privateKeyFile: key,
        port: sshd.port,
        requireReportedHostKey: true,
        reportedKeyWaitMs,
      });
    let asked = 0;
    const reportedOnThirdAsk = async () => (++asked >= 3 ? [sshd.hostPublicKey] : []);
    expect(
      await strict(10_000).check("127.0.0.1", ["127.0.0.1"], { reportedHostKeys: reportedOnThirdAsk }),
    ).toEqual({ hostKey: sshd.hostFingerprint, hostKeySource: "reported" });
    expect(asked).toBe(3);

    const never = await rejection(
      strict(1500).check("127.0.0.1", ["127.0.0.1"], { reportedHostKeys: async () => [] }),
    );
    expect(never.code).toBe("SSH_HOST_KEY");
    expect(never.message).toBe(
      `ssh root@127.0.0.1:${sshd.port}: the cloud reported no host key for the VM within 1.5 s, and first-seen keys are refused (requireReportedHostKey)`,
    );
    const unasked = await rejection(strict(1500).check("127.0.0.1", ["127.0.0.1"]));
    expect(unasked.code).toBe("SSH_HOST_KEY");
    expect(unasked.message).toContain(`a first-seen key (${sshd.hostFingerprint}) is refused`);
  }, 30_000);

  it("pins the first host key it sees: a retry that meets another key fails with SSH_HOST_KEY", async () => {
    const port = await freePort();
    const first = await startSshd({ authorized: [], port });
    // Refused key: the check retries; the server then changes under the same address.
    const checker = checkerOn(port, 20_000);
    const err = rejection(checker.check("127.0.0.1", ["127.0.0.1"]));
    await new Promise((r) => setTimeout(r, 800));
    await first.stop();
    const second = await startSshd({ authorized: [key], port });
    try {
      const e = await err;
      expect(e.code).toBe("SSH_HOST_KEY");
      expect(e.message).toBe(
        `ssh root@127.0.0.1:${port}: host key ${second.hostFingerprint} is not ${first.hostFingerprint} (the key of its first answer)`,
      );
    } finally {
      await second.stop();
    }
  }, 30_000);

  it("ends a command that outlives its timeout with SSH_TIMEOUT", async () => {
    const checker = new SshLinkChecker({
      username: "root",
      privateKeyFile: key,
      port: sshd.port,
      commandTimeoutMs: 100,
    });
    // A peer that never answers keeps ping going for its 3 s.
    const err = await rejection(checker.check("127.0.0.1", [NOWHERE]));
    expect(err.code).toBe("SSH_TIMEOUT");
    expect(err.message).toBe(`ssh root@127.0.0.1:${sshd.port}: the command did not finish within 100 ms`);
  }, 30_000);

  it("refuses an encrypted or missing key file with SSH_KEY, without the passphrase or the key", async () => {
    const locked = makeKey(dir, "locked", "secret-passphrase");
    const err = await rejection(
      new SshLinkChecker({ username: "root", privateKeyFile: locked, port: sshd.port }).check(
        "127.0.0.1",
        [],
      ),
    );
    expect(err.code).toBe("SSH_KEY");
    expect(err.message).toContain(locked);
    expect(err.message).not.toContain("secret-passphrase");
    const missing = await rejection(
      new SshLinkChecker({ username: "root", privateKeyFile: join(dir, "nope"), port: sshd.port }).check(
        "127.0.0.1",
        [],
      ),
    );
    expect(missing.code).toBe("SSH_KEY");
    expect(missing.message).toBe(`cannot read the ssh key file ${join(dir, "nope")}: ENOENT`);
  });

  it("refuses a peer address that is not IPv4 before connecting", async () => {
    const checker = new SshLinkChecker({ username: "root", privateKeyFile: key, port: 1 });
    const err = await rejection(checker.check("127.0.0.1", ["10.77.0.2; reboot"]));
    expect(err.code).toBe("LINK_CHECK_FAILED");
    expect(err.message).toMatch(/is not an IPv4 address/);
  });
});
