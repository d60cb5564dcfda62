import { pollUntil } from "../clouds/poll.ts";
import { MediationError } from "../errors.ts";
import type { LinkChecker, LinkCheckOptions, LinkCheckResult, PreparedLinkCheck } from "./link-check.ts";
import { fingerprint, keyBlobs, openSsh, type SshSession, type SshSessionOptions } from "./ssh-session.ts";

export interface SshOptions extends Omit<SshSessionOptions, "signal" | "hostKeys"> {
  /** The ping script's budget on the VM (all peers are pinged at once). */
  readonly commandTimeoutMs?: number;
  /**
   * Refuse a host key the cloud never reports (a `first-seen` one) instead of trusting it: the
   * check then waits, while and after its command runs, up to `reportedKeyWaitMs` (default 60 s)
   * for the cloud to report the VM's keys (cloud-init prints them at the end of its boot).
   */
  readonly requireReportedHostKey?: boolean;
  readonly reportedKeyWaitMs?: number;
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
 * or "fail ADDR" (ping's own output is dropped). Each ping ends at its first reply (one echo
 * through the tunnel proves the link; a lost first packet, e.g. an ARP entry still being
 * resolved, is sent again 0.2 s later) or after 3 s without one. No peers: `true`, logging in
 * is the check.
 */
export function pingScript(addresses: readonly string[]): string {
  if (addresses.length === 0) return "true";
  const each = addresses.map(
    (a) => `(if ping -c 1 -i 0.2 -w 3 ${a} >/dev/null 2>&1; then echo ok ${a}; else echo fail ${a}; fi) &`,
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

/** A logged-in session and the host keys the cloud reported before the login. */
interface Login {
  readonly host: string;
  readonly session: SshSession;
  readonly before: readonly string[];
}

/** Failures a later login may not meet: the VM was not up yet (a prepared login starts while it boots). */
const RETRYABLE = new Set(["SSH_UNREACHABLE", "SSH_AUTH"]);

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
    const login = await this.#login(host, options);
    try {
      return await this.#run(login, addresses, options);
    } finally {
      login.session.close();
    }
  }

  prepare(host: string, options: LinkCheckOptions = {}): PreparedLinkCheck {
    let current = this.#login(host, options);
    // Awaited by run(); a login nobody runs a check on (a rollback) must not be an unhandled rejection.
    current.catch(() => undefined);
    let closed = false;
    // The login, or undefined when it ran out of time while the VM booted.
    const loggedIn = () =>
      current.catch((err: unknown) => {
        if (err instanceof MediationError && RETRYABLE.has(err.code)) return undefined;
        throw err;
      });
    return {
      reachable: async () => {
        await loggedIn();
      },
      run: async (peerVint0s) => {
        const addresses = peerAddresses(peerVint0s);
        const prepared = await loggedIn();
        if (!prepared || prepared.session.ended) {
          // Its deadline ran while the VM booted, or the session dropped while the member waited
          // at its gate: a login of its own, as a check that was not prepared.
          prepared?.session.close();
          current = this.#login(host, options);
        }
        return this.#run(await current, addresses, options);
      },
      close: () => {
        if (closed) return;
        closed = true;
        current.then(
          (l) => l.session.close(),
          () => undefined,
        );
      },
    };
  }

  async #login(host: string, options: LinkCheckOptions): Promise<Login> {
    const before = options.reportedHostKeys ? await options.reportedHostKeys() : [];
    const session = await openSsh(host, {
      ...this.#o,
      ...(options.signal && { signal: options.signal }),
      ...(before.length > 0 && { hostKeys: before }),
    });
    return { host, session, before };
  }

  async #run(
    login: Login,
    addresses: readonly string[],
    options: LinkCheckOptions,
  ): Promise<LinkCheckResult> {
    const { host, session, before } = login;
    const reported = options.reportedHostKeys;
    // cloud-init prints the keys at the end of its boot, which can come after the login: the
    // key the session trusted must be one of them if they are there now (asked while the
    // command runs, after the login).
    const [r, after] = await Promise.all([
      session.exec(pingScript(addresses), this.#o.commandTimeoutMs ?? 30_000),
      before.length === 0 && reported
        ? this.#reportedAfterLogin(reported, session.where, options)
        : ([] as string[]),
    ]);
    if (after.length > 0 && !after.includes(session.hostKey))
      throw new MediationError(
        "SSH_HOST_KEY",
        `${session.where}: host key ${session.hostKey} is not one the cloud reports (${after.join(", ")})`,
      );
    const hostKeySource: LinkCheckResult["hostKeySource"] =
      before.length > 0 || after.length > 0 ? "reported" : "first-seen";
    if (hostKeySource === "first-seen" && this.#o.requireReportedHostKey)
      throw new MediationError(
        "SSH_HOST_KEY",
        `${session.where}: the cloud reports no host key for the VM, and a first-seen key (${session.hostKey}) is refused (requireReportedHostKey)`,
      );
    const missing = unreached(addresses, r.stdout);
    if (missing.length > 0)
      throw new MediationError("LINK_CHECK_FAILED", `${host} does not reach ${missing.join(", ")}`, {
        details: { host, unreached: missing, hostKey: session.hostKey },
      });
    if (r.exitCode !== 0)
      throw new MediationError(
        "LINK_CHECK_FAILED",
        `${session.where}: the check's command exited with ${r.exitCode}: ${r.stderr.trim().slice(0, 200)}`,
      );
    return { hostKey: session.hostKey, hostKeySource };
  }

  /** The fingerprints the cloud reports after the login; when first-seen keys are refused, waits for some. */
  async #reportedAfterLogin(
    reported: () => Promise<readonly string[]>,
    where: string,
    options: LinkCheckOptions,
  ): Promise<string[]> {
    const ask = async () => keyBlobs(await reported()).map(fingerprint);
    if (!this.#o.requireReportedHostKey) return ask();
    const waitMs = this.#o.reportedKeyWaitMs ?? 60_000;
    const some = async () => {
      const keys = await ask();
      return keys.length > 0 ? keys : undefined;
    };
    return pollUntil(some, {
      deadlineMs: waitMs,
      what: `${where}: the host keys the cloud reports`,
      firstDelayMs: 250,
      maxDelayMs: 2000,
      ...(options.signal && { signal: options.signal }),
      onTimeout: () =>
        new MediationError(
          "SSH_HOST_KEY",
          `${where}: the cloud reported no host key for the VM within ${waitMs / 1000} s, and first-seen keys are refused (requireReportedHostKey)`,
        ),
    });
  }
}
