import { MediationError } from "../errors.ts";
import type { LinkChecker, LinkCheckOptions, LinkCheckResult } from "./link-check.ts";
import { fingerprint, keyBlobs, openSsh, type SshSessionOptions } from "./ssh-session.ts";

export interface SshOptions extends Omit<SshSessionOptions, "signal" | "hostKeys"> {
  /** The ping script's budget on the VM (all peers are pinged at once). */
  readonly commandTimeoutMs?: number;
}

/** The peers' addresses without their prefix length; throws on anything but IPv4 (it goes into a shell). */
export function peerAddresses(peerVint0s: readonly string[]): string[] {
  const addresses = peerVint0s.map((a) => a.split("/")[0]!);
  for (const a of addresses)
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a))
      throw new MediationError("LINK_CHECK_FAILED", `the peer address '${a}' is not an IPv4 address`);
  return addresses;
}

/**
 * One shell command that pings every address at once and prints one line per address, "ok ADDR"
 * or "fail ADDR" (ping's own output is dropped). No peers: `true`, logging in is the check.
 */
export function pingScript(addresses: readonly string[]): string {
  if (addresses.length === 0) return "true";
  const each = addresses.map(
    (a) => `(if ping -c 3 -i 0.2 -W 2 ${a} >/dev/null 2>&1; then echo ok ${a}; else echo fail ${a}; fi) &`,
  );
  return `${each.join(" ")} wait`;
}

/** The addresses the script's output does not report as reached (a missing line counts as not reached). */
export function unreached(addresses: readonly string[], stdout: string): string[] {
  const ok = new Set(
    stdout
      .split("\n")
      .filter((l) => l.startsWith("ok "))
      .map((l) => l.slice(3).trim()),
  );
  return addresses.filter((a) => !ok.has(a));
}

/**
 * Logs into the moved VM over ssh (ssh2, one session) and pings every peer's vint0 from there:
 * the cluster's links work end to end, through the tunnels, not just the rules.
 */
export class SshLinkChecker implements LinkChecker {
  readonly #o: SshOptions;

  constructor(options: SshOptions) {
    this.#o = options;
  }

  async check(
    host: string,
    peerVint0s: readonly string[],
    options: LinkCheckOptions = {},
  ): Promise<LinkCheckResult> {
    const addresses = peerAddresses(peerVint0s);
    const reported = options.reportedHostKeys;
    const before = reported ? await reported() : [];
    const session = await openSsh(host, {
      ...this.#o,
      ...(options.signal && { signal: options.signal }),
      ...(before.length > 0 && { hostKeys: before }),
    });
    try {
      const r = await session.exec(pingScript(addresses), this.#o.commandTimeoutMs ?? 30_000);
      let hostKeySource: LinkCheckResult["hostKeySource"] = before.length > 0 ? "reported" : "first-seen";
      if (before.length === 0 && reported) {
        // cloud-init prints the keys at the end of its boot, which can come after this login:
        // the key the session trusted must be one of them if they are there now.
        const after = keyBlobs(await reported()).map(fingerprint);
        if (after.length > 0 && !after.includes(session.hostKey))
          throw new MediationError(
            "SSH_HOST_KEY",
            `${session.where}: host key ${session.hostKey} is not one the cloud reports (${after.join(", ")})`,
          );
        if (after.length > 0) hostKeySource = "reported";
      }
      const missing = unreached(addresses, r.stdout);
      if (missing.length > 0)
        throw new MediationError("LINK_CHECK_FAILED", `${host} does not reach ${missing.join(", ")}`, {
          details: { host, unreached: missing, hostKey: session.hostKey },
        });
      if (r.exitCode !== 0)
        throw new MediationError(
          "LINK_CHECK_FAILED",
          `${host}: the check's command exited with ${r.exitCode}: ${r.stderr.trim().slice(0, 200)}`,
        );
      return { hostKey: session.hostKey, hostKeySource };
    } finally {
      session.close();
    }
  }
}
