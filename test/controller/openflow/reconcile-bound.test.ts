import { describe, expect, it } from "vitest";
import { RulePlanner } from "../../../controller/compiler/rule-planner.ts";
import { silentLog } from "../../../controller/openflow/log.ts";
import { RECONCILE_CONCURRENCY, Reconciler } from "../../../controller/openflow/reconciler.ts";
import { Retries } from "../../../controller/openflow/retries.ts";
import { RECONCILE_RETRY } from "../../../controller/openflow/retry-policy.ts";
import type { SwitchSession } from "../../../controller/openflow/session.ts";
import { ClusterLocks } from "../../../controller/service/cluster-locks.ts";
import { makeState } from "../support/fixtures.ts";

// A thousand switches reconnecting together (a controller restart) are reconciled in one locked
// round, but at most RECONCILE_CONCURRENCY at a time: each holds its flow dump and difference
// while it runs (10 MB of decoded dump per switch at 5,000 members).

describe("Reconciler round", () => {
  it("reconciles every switch that asked, never more than RECONCILE_CONCURRENCY at once", async () => {
    const n = RECONCILE_CONCURRENCY * 3 + 5;
    const state = makeState(
      42,
      Array.from(
        { length: n },
        (_, i) => [`vm${i}`, `198.18.${i >> 8}.${i & 255}`, `192.0.${i >> 8}.${i & 255}`] as const,
      ),
    );
    let running = 0;
    let most = 0;
    const held: number[] = [];
    const sessions = state.members.map(
      (m) =>
        ({
          dpid: m.dpid,
          label: m.vmId,
          isClosed: false,
          isReady: true,
          async dumpOurRules() {
            running++;
            most = Math.max(most, running);
            await new Promise((r) => setTimeout(r, 2));
            return [];
          },
          async applyBatch() {
            await new Promise((r) => setTimeout(r, 2));
            return { ms: 2, sent: { add: 0, delete: 0 }, countKnown: true };
          },
          holdsExactly(rules: readonly unknown[]) {
            running--;
            held.push(rules.length);
          },
        }) as unknown as SwitchSession,
    );
    const retries = new Retries(RECONCILE_RETRY);
    const reconciler = new Reconciler({
      clusters: {
        memberByDpid: (dpid) => state.members.find((m) => m.dpid === dpid),
        clusterState: () => state,
      },
      planner: new RulePlanner({}),
      locks: new ClusterLocks(),
      retries,
      log: silentLog,
    });
    const results = await Promise.all(sessions.map((s) => reconciler.reconcile(s)));
    retries.cancelAll();
    expect(results.every((r) => r.status === "updated")).toBe(true);
    expect(held).toHaveLength(n);
    expect(held.every((k) => k === 3 * (n - 1) + 1)).toBe(true);
    expect(most).toBe(RECONCILE_CONCURRENCY);
  });
});
