/** Checks from inside the moved VM that it reaches every peer's vint0 (over ssh in production). */
export interface LinkChecker {
  /**
   * Resolves when `host` reaches every address; throws naming the ones it does not reach (or
   * what kept it from asking the host).
   */
  check(host: string, peerVint0s: readonly string[], options?: LinkCheckOptions): Promise<LinkCheckResult>;
  /**
   * Starts reaching `host` now (its host keys asked, the login retried while it boots), for a
   * check run later: the login overlaps what the caller waits for meanwhile (the new VM's switch,
   * the rebind), and the check after the rebind only runs its command.
   */
  prepare(host: string, options?: LinkCheckOptions): PreparedLinkCheck;
}

/** A check whose login started ahead of it. */
export interface PreparedLinkCheck {
  /**
   * Resolves once the prepared login got in: the host's address carries traffic (a floating IP's
   * NAT is in place). Also resolves when that login ran out of time while the host booted (`run`
   * logs in anew); rejects on what no later login can mend (a refused host key).
   */
  reachable(): Promise<void>;
  /** The check, on the prepared login; on a fresh one when that failed to connect or has ended since. */
  run(peerVint0s: readonly string[]): Promise<LinkCheckResult>;
  /** Ends the login, used or not (a rollback that never ran the check). */
  close(): void;
}

export interface LinkCheckOptions {
  /** Stops the check (a cancel). */
  readonly signal?: AbortSignal;
  /**
   * The host keys the cloud reports for the VM (OpenSSH public key lines; [] when it reports none
   * yet), asked before logging in and, when it had none then, again after.
   */
  readonly reportedHostKeys?: () => Promise<readonly string[]>;
}

export interface LinkCheckResult {
  /** The fingerprint of the host key the check logged in with, for the record. */
  readonly hostKey: string;
  /** Whether that key was one the cloud reported, or only the first the host presented. */
  readonly hostKeySource: "reported" | "first-seen";
}
