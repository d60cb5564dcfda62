import { describe, expect, it } from "vitest";
import { isNewSession } from "../../mediation/model/new-session.ts";
import type { SwitchSession } from "../../mediation/ports/controller.ts";

const up = (remoteAddress: string, connectedForMs: number): SwitchSession => ({
  connected: true,
  remoteAddress,
  connectedForMs,
});

describe("isNewSession: the new instance's switch session, told from the one before", () => {
  const at = 1_000_000;

  it("takes any session when none was up before", () => {
    expect(isNewSession(up("203.0.113.9", 60_000), { session: undefined, at }, at + 5000)).toBe(true);
    const down = { connected: false, remoteAddress: null, connectedForMs: null };
    expect(isNewSession(up("203.0.113.9", 60_000), { session: down, at }, at + 5000)).toBe(true);
  });

  it("takes a session from another address", () => {
    const before = { session: up("203.0.113.9", 60_000), at };
    expect(isNewSession(up("203.0.113.10", 90_000), before, at + 30_000)).toBe(true);
  });

  it("behind the same address (one router's SNAT), takes only a session younger than the ask before", () => {
    const before = { session: up("203.0.113.225", 60_000), at };
    // 30 s later, the old session is 90 s old: not new.
    expect(isNewSession(up("203.0.113.225", 90_000), before, at + 30_000)).toBe(false);
    // One that connected 10 s after the ask is 20 s old then.
    expect(isNewSession(up("203.0.113.225", 20_000), before, at + 30_000)).toBe(true);
  });
});
