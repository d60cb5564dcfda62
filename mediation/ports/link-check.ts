/** Checks from inside the moved VM that it reaches every peer's vint0 (over ssh in production). */
export interface LinkChecker {
  /**
   * Resolves when `host` reaches every address; throws naming the ones it does not reach (or
   * what kept it from asking the host). `signal` stops it (a cancel).
   */
  check(host: string, peerVint0s: readonly string[], signal?: AbortSignal): Promise<LinkCheckResult>;
}

export interface LinkCheckResult {
  /** The fingerprint of the host key the check logged in with, for the record. */
  readonly hostKey: string;
}
