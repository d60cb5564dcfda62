import type { SwitchSession } from "../ports/controller.ts";

/** A member's switch session as it was before its new instance existed, and when it was asked (epoch ms). */
export interface SwitchBefore {
  readonly session: SwitchSession | undefined;
  readonly at: number;
}

/**
 * Whether connected session `now` (asked at `nowMs`) is the new instance's: none was up before,
 * or it comes from another address, or it is younger than the ask before the new instance
 * existed. The address alone cannot tell: behind one cloud router's SNAT every VM has the same.
 */
export function isNewSession(now: SwitchSession, before: SwitchBefore, nowMs: number): boolean {
  const old = before.session;
  if (!old?.connected) return true;
  if (now.remoteAddress !== old.remoteAddress) return true;
  return now.connectedForMs !== null && now.connectedForMs < nowMs - before.at;
}
