import { describe, expect, it } from "vitest";
import { Retries } from "../../../controller/openflow/retries.ts";
import { RECONCILE_RETRY, RetryPolicy } from "../../../controller/openflow/retry-policy.ts";

describe("RetryPolicy", () => {
  it("backs off exponentially, jitters within its fraction, and gives up after its limit", () => {
    const p = new RetryPolicy({ firstDelayMs: 100, factor: 3, maxRetries: 3, jitter: 0.5 });
    expect([0, 1, 2].map((r) => p.delayMs(r, 0.5))).toEqual([100, 300, 900]);
    expect(p.delayMs(1, 0)).toBe(150);
    expect(p.delayMs(1, 0.999_999)).toBeCloseTo(450, 3);
    expect(p.delayMs(3, 0.5)).toBeNull();
    for (let i = 0; i < 100; i++) {
      const d = p.delayMs(2)!;
      expect(d).toBeGreaterThanOrEqual(450);
      expect(d).toBeLessThan(1350);
    }
  });

  it("for a failed reconcile: 0.5 s, 1 s, 2 s, 4 s, 8 s, then no more", () => {
    expect([0, 1, 2, 3, 4, 5].map((r) => RECONCILE_RETRY.delayMs(r, 0.5))).toEqual([
      500,
      1000,
      2000,
      4000,
      8000,
      null,
    ]);
    expect(RECONCILE_RETRY.delayMs(0, 0)).toBe(500);
  });

  it("refuses options that make no schedule", () => {
    const ok = { firstDelayMs: 1, factor: 2, maxRetries: 1, jitter: 0 };
    for (const bad of [{ factor: 0.5 }, { maxRetries: 1.5 }, { jitter: 1 }, { firstDelayMs: -1 }]) {
      expect(() => new RetryPolicy({ ...ok, ...bad })).toThrow(RangeError);
    }
  });
});

describe("Retries", () => {
  it("runs a retry once due, and none after cancelAll or past the policy's limit", async () => {
    const retries = new Retries(new RetryPolicy({ firstDelayMs: 5, factor: 1, maxRetries: 2, jitter: 0 }));
    const ran: number[] = [];
    expect(retries.schedule(0, () => ran.push(0))).toBe(5);
    expect(retries.schedule(2, () => ran.push(2))).toBeNull();
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).toEqual([0]);
    retries.schedule(1, () => ran.push(1));
    retries.cancelAll();
    expect(retries.schedule(0, () => ran.push(9))).toBeNull();
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).toEqual([0]);
  });
});
