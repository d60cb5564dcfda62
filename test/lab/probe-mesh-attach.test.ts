import { rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { ProbeMesh } from "../../lab/probe-mesh-run.ts";
import { run } from "../../lab/sh.ts";

/**
 * A moved member's new instance: the mesh learns its namespace's name as soon as the server
 * exists, and `ip netns add` makes the namespace's file a moment before it mounts the namespace
 * on it. Entering it in between fails (EINVAL); the mesh waits for the mount. Until its cutover,
 * the new instance's probes do not count.
 */
describe("ProbeMesh.attach (real namespaces)", () => {
  const names = [0, 1, 2].map((i) => `icsdn-pm-${process.pid}-${i}`);

  afterAll(async () => {
    for (const n of names) {
      await run("ip", ["netns", "delete", n], { check: false });
      rmSync(`/run/netns/${n}`, { force: true });
    }
  });

  it("enters a namespace whose file appeared before its mount, once mounted", async () => {
    const [a, b, next] = names as [string, string, string];
    for (const n of [a, b]) await run("ip", ["netns", "add", n]);
    const mesh = await ProbeMesh.start(
      [
        { name: "a", vint0: "198.18.0.11", netns: a },
        { name: "b", vint0: "198.18.0.12", netns: b },
      ],
      { rate: 10 },
    );
    try {
      writeFileSync(`/run/netns/${next}`, "");
      const attached = mesh.attach("a", next, 20_000);
      await sleep(400);
      await run("unshare", [`--net=/run/netns/${next}`, "true"]);
      expect(await attached).toBe(1);
      // Past the mesh's 1 s edges at its start and end: a second in which both instances send.
      await sleep(2500);
    } finally {
      const report = await mesh.stop();
      // Nothing routes between the namespaces: every probe is lost, but each node reported.
      expect(report.pairs.map((p) => `${p.from}->${p.to}`).sort()).toEqual(["a->b", "b->a"]);
      // Never cut over, a's new instance counts for nothing (about 10 ticks a second): a's old
      // instance sends as many as b.
      const sent = Object.fromEntries(report.pairs.map((p) => [p.from, p.sent]));
      expect(sent.b).toBeGreaterThanOrEqual(5);
      expect(Math.abs(sent.a! - sent.b!)).toBeLessThanOrEqual(2);
    }
  }, 60_000);
});
