/** Checks from inside the moved VM that it reaches every peer's vint0 (over ssh in production). */
export interface LinkChecker {
  /** Resolves when `host` reaches every address; throws naming the ones it does not reach. */
  check(host: string, peerVint0s: readonly string[]): Promise<void>;
}
