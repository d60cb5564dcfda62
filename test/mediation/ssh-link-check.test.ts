import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SshLinkChecker } from "../../mediation/ports/ssh-link-check.ts";

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

describe("the ssh link check (OpenSSH against a loopback listener)", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-ssh-check-"));
  const key = join(dir, "id");

  beforeAll(async () => {
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("retries a connection that fails until its deadline, then names the host and the attempts", async () => {
    const l = await closingListener();
    try {
      const checker = new SshLinkChecker({
        username: "root",
        privateKeyFile: key,
        port: l.port,
        timeoutMs: 2000,
        connectDeadlineMs: 2500,
      });
      const err = (await checker.check("127.0.0.1", ["10.77.0.2/24"]).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(/^ssh root@127\.0\.0\.1 failed \(exit 255, [2-9] attempts\)/);
      expect(l.connections()).toBeGreaterThanOrEqual(2);
    } finally {
      l.server.close();
    }
  }, 30_000);

  it("tries once when no retry fits in the deadline", async () => {
    const l = await closingListener();
    try {
      const checker = new SshLinkChecker({
        username: "root",
        privateKeyFile: key,
        port: l.port,
        timeoutMs: 2000,
        connectDeadlineMs: 0,
      });
      await expect(checker.check("127.0.0.1", ["10.77.0.2"])).rejects.toThrow(/exit 255, 1 attempt\)/);
      expect(l.connections()).toBe(1);
    } finally {
      l.server.close();
    }
  }, 30_000);

  it("refuses a peer address that is not IPv4 before connecting", async () => {
    const checker = new SshLinkChecker({ username: "root", privateKeyFile: key, port: 1 });
    await expect(checker.check("127.0.0.1", ["10.77.0.2; reboot"])).rejects.toThrow(/is not an IPv4 address/);
  });
});
