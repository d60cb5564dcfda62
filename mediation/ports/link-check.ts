/** Checks from inside the moved VM that it reaches every peer's vint0 (over ssh in production). */
export interface LinkChecker {
  /**
   * Resolves when `host` reaches every address; throws naming the ones it does not reach (or
   * what kept it from asking the host).
   */
  check(host: string, peerVint0s: readonly string[], options?: LinkCheckOptions): Promise<LinkCheckResult>;
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
