import { describe, expect, it } from "vitest";
import { pollUntil } from "../../mediation/clouds/poll.ts";

describe("pollUntil", () => {
  it("asks at least every second by default: a state reached at 3.3 s is seen by 4.3 s", async () => {
    const t0 = Date.now();
    const asks: number[] = [];
    const seen = await pollUntil(
      async () => {
        asks.push(Date.now() - t0);
        return Date.now() - t0 >= 3300 ? Date.now() - t0 : undefined;
      },
      { deadlineMs: 10_000, what: "x", onTimeout: () => new Error("timeout") },
    );
    expect(seen).toBeLessThan(4300 + 100);
    const gaps = asks.slice(1).map((a, i) => a - asks[i]!);
    expect(Math.max(...gaps)).toBeLessThan(1100);
  }, 10_000);

  it("stops at the deadline with the caller's error", async () => {
    await expect(
      pollUntil(async () => undefined, {
        deadlineMs: 300,
        what: "never",
        onTimeout: (what) => new Error(`timed out: ${what}`),
      }),
    ).rejects.toThrow("timed out: never");
  });
});
