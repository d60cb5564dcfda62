import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Flavor, Quotas } from "../../mediation/clouds/cloud-driver.ts";
import {
  type ClusterMode,
  type ClusterPhase,
  clusterRecovery,
  IN_TRANSIT,
  type MemberState,
  nextDecision,
} from "../../mediation/model/cluster.ts";
import { TokenBucket } from "../../mediation/model/token-bucket.ts";
import { type MemberFacts, observedRates, planCluster } from "../../mediation/planner/cluster-plan.ts";

const input = (
  mode: ClusterMode,
  states: MemberState[],
  over: Partial<Parameters<typeof nextDecision>[0]> = {},
) =>
  nextDecision({
    mode,
    maxParallel: 2,
    maxInTransit: 1,
    phase: "preparing",
    members: states.map((state, i) => ({ member: `vm${i + 1}`, state })),
    cancelled: false,
    interrupted: false,
    ...over,
  });

describe("the cluster scheduler (pure)", () => {
  it("starts at most maxParallel members at once, in order", () => {
    expect(input("atomic", ["pending", "pending", "pending"]).start).toEqual(["vm1", "vm2"]);
    expect(input("atomic", ["preparing", "pending", "pending"]).start).toEqual(["vm2"]);
    expect(input("atomic", ["verified", "preparing", "pending"]).start).toEqual(["vm3"]);
  });

  it("atomic: nothing rebinds until every member is verified; then all at once, then the confirmation", () => {
    expect(input("atomic", ["verified", "preparing"]).cut).toEqual([]);
    expect(input("atomic", ["verified", "verified", "verified"]).cut).toEqual(["vm1", "vm2", "vm3"]);
    expect(input("atomic", ["rebound", "rebinding"], { phase: "committing" }).confirm).toBe(false);
    expect(input("atomic", ["rebound", "rebound"], { phase: "committing" }).confirm).toBe(true);
  });

  it("atomic: a failure before the confirmation aborts every member; after it nothing is aborted", () => {
    const d = input("atomic", ["verified", "failed", "pending"]);
    expect(d).toMatchObject({ abort: true, start: [], cut: [], outcome: undefined });
    expect(input("atomic", ["failed", "failed", "pending"]).outcome).toBe("failed");
    expect(input("atomic", ["releasing", "failed"], { phase: "confirmed" }).abort).toBe(false);
    expect(input("atomic", ["verified", "verified"], { interrupted: true }).abort).toBe(true);
  });

  it("rolling: cuts verified members over up to maxInTransit", () => {
    expect(input("rolling", ["verified", "verified", "preparing"]).cut).toEqual(["vm1"]);
    expect(input("rolling", ["releasing", "verified"]).cut).toEqual([]);
    expect(input("rolling", ["done", "verified", "verified"], { maxInTransit: 2 }).cut).toEqual([
      "vm2",
      "vm3",
    ]);
  });

  it("ends: succeeded when all are done, cancelled on request, failed otherwise", () => {
    expect(input("rolling", ["done", "done"]).outcome).toBe("succeeded");
    expect(input("rolling", ["done", "failed"], { cancelled: true }).outcome).toBe("cancelled");
    expect(input("rolling", ["done", "failed", "pending"]).outcome).toBe("failed");
    expect(input("rolling", ["done", "releasing"]).outcome).toBeUndefined();
  });

  it("never exceeds maxParallel preparing nor (rolling) maxInTransit in transit, and always ends (simulated members)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ClusterMode>("atomic", "rolling"),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 200 }),
        fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        (mode, n, maxParallel, maxInTransit, dice, failing) => {
          const states: MemberState[] = Array.from({ length: n }, () => "pending");
          let phase: ClusterPhase = "preparing";
          let roll = 0;
          for (let step = 0; step < 10_000; step++) {
            const d = nextDecision({
              mode,
              maxParallel,
              maxInTransit,
              phase,
              members: states.map((state, i) => ({ member: String(i), state })),
              cancelled: false,
              interrupted: false,
            });
            if (d.outcome) {
              const failed = failing !== undefined && failing < n;
              if (!failed) expect(d.outcome).toBe("succeeded");
              return;
            }
            for (const m of d.start) states[Number(m)] = "preparing";
            for (const m of d.cut) states[Number(m)] = "rebinding";
            if (d.cut.length > 0 && mode === "atomic") phase = "committing";
            if (d.confirm) phase = "confirmed";
            if (d.abort) {
              for (let i = 0; i < n; i++) {
                const s = states[i]!;
                if (s !== "done" && s !== "pending" && s !== "releasing") states[i] = "failed";
              }
            }
            expect(states.filter((s) => s === "preparing").length).toBeLessThanOrEqual(maxParallel);
            if (mode === "rolling")
              expect(states.filter((s) => IN_TRANSIT.includes(s)).length).toBeLessThanOrEqual(maxInTransit);
            // One member moves one step forward (the one the dice picks among those that can).
            const movable = (st: MemberState) =>
              ["preparing", "rebinding", "releasing"].includes(st) ||
              (st === "rebound" && phase === "confirmed");
            const active = states.flatMap((st, i) => (movable(st) ? [i] : []));
            if (active.length === 0) continue;
            const i = active[dice[roll++ % dice.length]! % active.length]!;
            const s = states[i]!;
            if (s === "preparing") states[i] = failing === i ? "failed" : "verified";
            else if (s === "rebinding") states[i] = mode === "atomic" ? "rebound" : "releasing";
            else if (s === "rebound") states[i] = "releasing";
            else if (s === "releasing") states[i] = "done";
          }
          throw new Error("the scheduler never ended");
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("cluster recovery after a restart (pure)", () => {
  const mig = (status: "running" | "succeeded" | "failed", committed: boolean) => ({ status, committed });

  it("atomic before the confirmation: everything rolls back, nothing new starts", () => {
    const r = clusterRecovery("atomic", "committing", [
      { member: "a", migration: mig("running", false) },
      { member: "b", migration: mig("running", false) },
      { member: "c", migration: undefined },
    ]);
    expect(r.commit).toEqual([]);
    expect(r.interrupted).toBe(true);
    expect([...r.resumeAs]).toEqual([
      ["a", "preparing"],
      ["b", "preparing"],
      ["c", "pending"],
    ]);
  });

  it("atomic after the confirmation: members not yet committed are marked so, all release", () => {
    const r = clusterRecovery("atomic", "confirmed", [
      { member: "a", migration: mig("running", true) },
      { member: "b", migration: mig("running", false) },
      { member: "c", migration: mig("succeeded", true) },
    ]);
    expect(r.commit).toEqual(["b"]);
    expect(r.interrupted).toBe(false);
    expect([...r.resumeAs]).toEqual([
      ["a", "releasing"],
      ["b", "releasing"],
      ["c", "done"],
    ]);
  });

  it("rolling: committed members release, the others roll back and resume", () => {
    const r = clusterRecovery("rolling", "preparing", [
      { member: "a", migration: mig("succeeded", true) },
      { member: "b", migration: mig("running", true) },
      { member: "c", migration: mig("running", false) },
      { member: "d", migration: mig("failed", false) },
    ]);
    expect(r).toMatchObject({ commit: [], interrupted: false });
    expect([...r.resumeAs]).toEqual([
      ["a", "done"],
      ["b", "releasing"],
      ["c", "preparing"],
      ["d", "failed"],
    ]);
  });
});

describe("the shared token bucket (pure)", () => {
  it("lets a burst through, then paces to the rate", () => {
    const b = new TokenBucket(1000, 500, 0);
    expect(b.reserve(500, 0)).toBe(0);
    expect(b.reserve(250, 0)).toBe(250);
    // 250 ms later the debt is paid; 100 more bytes wait 100 ms.
    expect(b.reserve(100, 250)).toBe(100);
  });

  it("two streams sharing one bucket together get the rate, not twice it", () => {
    const b = new TokenBucket(1_000_000, 10_000, 0);
    let now = 0;
    let sent = 0;
    const due = [0, 0];
    while (sent < 5_000_000) {
      const who = due[0]! <= due[1]! ? 0 : 1;
      now = Math.max(now, due[who]!);
      due[who] = now + b.reserve(10_000, now);
      sent += 10_000;
    }
    const seconds = Math.max(...due) / 1000;
    expect(sent / seconds).toBeLessThanOrEqual(1_000_000 * 1.01);
    expect(sent / seconds).toBeGreaterThan(1_000_000 * 0.95);
  });

  it("refuses a rate or burst that is not positive", () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
  });
});

describe("the cluster plan (pure)", () => {
  const tiny: Flavor = { id: "f1", name: "m1.tiny", vcpus: 1, ramMb: 512, diskGb: 1 };
  const fact = (member: string, over: Partial<MemberFacts> = {}): MemberFacts => ({
    member,
    server: member,
    sourceCloud: "a",
    targetCloud: "b",
    targetNetwork: "private",
    sourceFlavor: "m1.tiny",
    flavor: tiny,
    imageBytes: 100e6,
    securityGroups: ["default"],
    securityGroupMapping: { reuse: ["default"], create: [] },
    floatingIp: "203.0.113.1",
    problems: [],
    ...over,
  });
  const quota = (limit: number, used: number) => ({ limit, used });
  const roomy: Quotas = {
    instances: quota(10, 0),
    cores: quota(10, 0),
    ramMb: quota(10_000, 0),
    floatingIps: quota(10, 0),
    securityGroups: quota(10, 0),
  };

  it("checks quotas for all members together and names every problem at once", () => {
    const plan = planCluster({
      members: [
        fact("vm1"),
        fact("vm2"),
        fact("vm3", { problems: [{ field: "members[vm3].server", message: "x" }] }),
      ],
      quotas: new Map([["b", { ...roomy, instances: quota(10, 8), cores: quota(4, 2) }]]),
      targetServerNames: new Map([["b", new Set(["vm2"])]]),
      observed: undefined,
      bandwidthBytesPerSecond: undefined,
    });
    expect(plan.problems.map((p) => p.field)).toEqual([
      "members[vm3].server",
      "members[vm2].server",
      "target.cloud",
      "target.cloud",
    ]);
    expect(plan.problems[2]!.message).toMatch(
      /quota of instances exceeded for the cluster \(8 of 10 used, 3 more needed/,
    );
    expect(plan.problems[3]!.message).toMatch(/quota of cores/);
  });

  it("finds two members that would create one server name in a target", () => {
    const plan = planCluster({
      members: [fact("vm1", { server: "db" }), fact("vm2", { server: "db" })],
      quotas: new Map([["b", roomy]]),
      targetServerNames: new Map(),
      observed: undefined,
      bandwidthBytesPerSecond: undefined,
    });
    expect(plan.problems).toEqual([
      {
        field: "members[vm2].server",
        message: "members 'vm1' and 'vm2' would both create server 'db' in cloud 'b'",
      },
    ]);
  });

  it("predicts from observed rates, capped by the shared bandwidth; unknown without observations", () => {
    const observed = observedRates([
      { bytes: 100e6, transferSeconds: 10, totalSeconds: 30 },
      { bytes: 300e6, transferSeconds: 30, totalSeconds: 50 },
      { bytes: 0, transferSeconds: 0, totalSeconds: 5 },
    ]);
    expect(observed).toEqual({ bytesPerSecond: 10e6, overheadSeconds: 20, samples: 2 });
    const base = { quotas: new Map([["b", roomy]]), targetServerNames: new Map(), observed };
    const plan = planCluster({
      ...base,
      members: [fact("vm1"), fact("vm2")],
      bandwidthBytesPerSecond: undefined,
    });
    expect(plan.members[0]!.predicted).toEqual({ bytes: 100e6, seconds: 30 });
    expect(plan.predicted).toEqual({ bytes: 200e6, seconds: 40 });
    const capped = planCluster({ ...base, members: [fact("vm1")], bandwidthBytesPerSecond: 5e6 });
    expect(capped.predicted.seconds).toBe(40);
    const blind = planCluster({
      ...base,
      observed: undefined,
      members: [fact("vm1")],
      bandwidthBytesPerSecond: undefined,
    });
    expect(blind.predicted).toEqual({ bytes: 100e6, seconds: null });
  });
});
