import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ruleKind } from "../../controller/compiler/cookie.ts";
import { diffRules } from "../../controller/compiler/diff.ts";
import { compileCluster, compileSwitch, countSwitch } from "../../controller/compiler/flow-compiler.ts";
import { checkRules } from "../../controller/compiler/pipeline.ts";
import type { Rule } from "../../controller/compiler/rule.ts";
import { announcedArb, picksArb, poolArb, stateArb, stateFrom } from "./support/arbitraries.ts";
import { makeState } from "./support/fixtures.ts";
import { deliver, forward, type Instance } from "./support/forwarding.ts";
import { applyBatch, asSet } from "./support/switch-model.ts";

const runs = { numRuns: 300 };

describe("FlowCompiler properties", () => {
  it("is deterministic and independent of member order", () => {
    fc.assert(
      fc.property(
        stateArb.chain((s) =>
          fc.tuple(
            fc.constant(s),
            fc.shuffledSubarray([...s.members], { minLength: s.members.length, maxLength: s.members.length }),
          ),
        ),
        ([state, shuffled]) => {
          expect(compileCluster({ ...state, members: shuffled })).toEqual(compileCluster(state));
          expect(compileCluster(state)).toEqual(compileCluster(state));
        },
      ),
      runs,
    );
  });

  it("counts a switch's rules (countSwitch) as many as it compiles, failing alike", () => {
    const outcome = (fn: () => number) => {
      try {
        return fn();
      } catch (err) {
        return (err as Error).message;
      }
    };
    fc.assert(
      fc.property(stateArb, fc.boolean(), (state, probes) => {
        const options = probes ? { probePort: 48879 } : {};
        for (const m of state.members) {
          expect(outcome(() => countSwitch(state, m.vmId, options))).toEqual(
            outcome(() => compileSwitch(state, m.vmId, options).length),
          );
        }
      }),
      runs,
    );
  });

  it("always obeys the pipeline, with 3 rules per reachable peer, 1 per announced next endpoint, plus the drop", () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        for (const sw of compileCluster(state)) {
          expect(checkRules(sw.rules)).toEqual([]);
          const peers = state.members.filter((m) => m.vmId !== sw.vmId);
          const reachable = peers.filter((m) => m.endpoint !== null).length;
          const announced = peers.filter((m) => m.nextEndpoint !== null).length;
          expect(sw.rules).toHaveLength(3 * reachable + announced + 1);
          expect(sw.rules.filter((r) => ruleKind(r) === "ingress")).toHaveLength(reachable + announced);
        }
      }),
      runs,
    );
  });

  it("connects every pair of members with known endpoints both ways (IP and ARP), and nothing else", () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        const rules = new Map(compileCluster(state).map((s) => [s.vmId, s.rules]));
        const instances: Instance[] = state.members
          .filter((m) => m.endpoint !== null)
          .map((m) => ({
            name: m.vmId,
            vmId: m.vmId,
            vint0: m.vint0,
            endpoint: m.endpoint!,
            rules: [...rules.get(m.vmId)!],
          }));
        for (const a of instances) {
          for (const b of state.members) {
            if (a.vmId === b.vmId) continue;
            const expected = b.endpoint === null ? undefined : b.vmId;
            expect(deliver(instances, a, b.vint0, "ip")?.vmId).toBe(expected);
            expect(deliver(instances, a, b.vint0, "arp")?.vmId).toBe(expected);
          }
        }
      }),
      runs,
    );
  });

  it("drops tunnel packets with another VNI or from an unknown source, and vint0 traffic to strangers", () => {
    fc.assert(
      fc.property(stateArb, fc.integer({ min: 1, max: 0xffffff }), (state, otherVni) => {
        fc.pre(otherVni !== state.cluster.vni);
        for (const sw of compileCluster(state)) {
          for (const peer of state.members) {
            if (peer.endpoint === null || peer.vmId === sw.vmId) continue;
            const fromPeer = { inPort: 1, ethType: 0x0800, tunSrc: peer.endpoint };
            expect(forward(sw.rules, { ...fromPeer, tunnelId: BigInt(state.cluster.vni) })?.output).toBe(2);
            expect(forward(sw.rules, { ...fromPeer, tunnelId: BigInt(otherVni) })).toBeUndefined();
          }
          // A peer's announced next endpoint is accepted (with the VNI only) before the peer moves there.
          for (const peer of state.members) {
            if (peer.nextEndpoint === null || peer.vmId === sw.vmId) continue;
            const fromNext = { inPort: 1, ethType: 0x0800, tunSrc: peer.nextEndpoint };
            expect(forward(sw.rules, { ...fromNext, tunnelId: BigInt(state.cluster.vni) })?.output).toBe(2);
            expect(forward(sw.rules, { ...fromNext, tunnelId: BigInt(otherVni) })).toBeUndefined();
          }
          const stranger = {
            inPort: 1,
            ethType: 0x0800,
            tunnelId: BigInt(state.cluster.vni),
            tunSrc: "192.0.2.255",
          };
          expect(forward(sw.rules, stranger)).toBeUndefined();
          expect(forward(sw.rules, { inPort: 2, ethType: 0x0800, ipv4Dst: "198.18.1.1" })).toBeUndefined();
          expect(forward(sw.rules, { inPort: 2, ethType: 0x86dd })).toBeUndefined();
        }
      }),
      runs,
    );
  });
});

describe("diffRules properties", () => {
  /** A switch's rules: some other state's compiled set, shuffled, plus rules that are not ours. */
  const foreignArb = fc.array(
    fc.record({
      priority: fc.integer({ min: 0, max: 0xffff }),
      port: fc.integer({ min: 3, max: 64 }),
    }),
    { maxLength: 3 },
  );
  const switchPairArb = poolArb().chain((pool) =>
    fc.record({
      pool: fc.constant(pool),
      before: picksArb(pool),
      after: picksArb(pool),
      beforeNext: announcedArb(pool),
      afterNext: announcedArb(pool),
      foreign: foreignArb,
      order: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    }),
  );

  it("applying diff(current, desired) to current gives desired; diffing desired with itself is empty", () => {
    fc.assert(
      fc.property(switchPairArb, ({ pool, before, after, beforeNext, afterNext, foreign, order }) => {
        // The switch of pool member 0, present in both states.
        const b = stateFrom(
          pool,
          before.map((p, i) => (i === 0 ? 0 : p)),
          beforeNext,
        );
        const a = stateFrom(
          pool,
          after.map((p, i) => (i === 0 ? 0 : p)),
          afterNext,
        );
        const stray: Rule[] = foreign.map((f) => ({
          tableId: 0,
          priority: f.priority,
          cookie: 0n,
          match: [{ field: "IN_PORT", value: f.port }],
          instructions: [],
        }));
        const current = [...compileSwitch(b, "vm0"), ...stray]
          .map((r, i) => ({ r, k: order[i % order.length]! }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.r);
        const desired = compileSwitch(a, "vm0");
        const diff = diffRules(current, desired);
        const table = [...current];
        applyBatch(table, diff);
        expect(asSet(table)).toEqual(asSet(desired));
        expect(diffRules(table, desired)).toEqual({ add: [], delete: [] });
        // Never an add and a delete of one flow: the adds-then-deletes order would lose it.
        const added = new Set(asSet(diff.add.map((r) => ({ ...r, cookie: 0n, instructions: [] }))));
        for (const d of asSet(diff.delete.map((r) => ({ ...r, cookie: 0n, instructions: [] })))) {
          expect(added.has(d)).toBe(false);
        }
      }),
      runs,
    );
  });

  it("is minimal: a rule present with the same content is never re-sent", () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        for (const sw of compileCluster(state)) {
          const half = sw.rules.filter((_, i) => i % 2 === 0);
          const diff = diffRules(half, sw.rules);
          expect(diff.delete).toEqual([]);
          expect(diff.add).toHaveLength(sw.rules.length - half.length);
        }
      }),
      runs,
    );
  });

  it("leaves a 1-member cluster with only the drop", () => {
    expect(compileSwitch(makeState(1, [["solo", "198.18.0.9", "192.0.2.9"]]), "solo")).toHaveLength(1);
  });
});
