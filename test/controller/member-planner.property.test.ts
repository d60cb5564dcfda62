import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compileSwitch,
  deriveUnion,
  forgetVni,
  memberRules,
  peerRules,
} from "../../controller/compiler/flow-compiler.ts";
import { sortRules } from "../../controller/compiler/rule.ts";
import {
  planAdd,
  planAnnounce,
  planCreate,
  planRebind,
  planRemove,
  planTransition,
  rebindState,
} from "../../controller/compiler/transition-planner.ts";
import { type ClusterState, replaceMember } from "../../controller/model/cluster-state.ts";
import { memberOf } from "../../controller/model/member.ts";
import { announcedArb, endpointArb, picksArb, poolArb, stateFrom } from "./support/arbitraries.ts";
import { makeState, outcome } from "./support/fixtures.ts";

const PROBE = 48879;

const memberCase = poolArb(7).chain((pool) =>
  fc.record({
    pool: fc.constant(pool),
    picks: picksArb(pool),
    announced: announcedArb(pool),
    which: fc.nat({ max: pool.members.length - 1 }),
    // The added member's endpoint: one of its own, none, or any address (perhaps a peer's).
    endpoint: fc.oneof(fc.constant<"own" | null>("own"), fc.constant(null), endpointArb),
    // Its vint0: its own, or a present member's (a conflict the general path reports).
    vint0Of: fc.option(fc.nat({ max: pool.members.length - 1 }), { nil: undefined }),
    probes: fc.boolean(),
  }),
);

describe("planAdd (incremental)", () => {
  it("is exactly the general make-before-break plan, conflicts included", () => {
    fc.assert(
      fc.property(memberCase, ({ pool, picks, announced, which, endpoint, vint0Of, probes }) => {
        const state = stateFrom(
          pool,
          picks.map((p, i) => (i === which ? "absent" : p)),
          announced,
        );
        const spec = pool.members[which]!;
        const member = memberOf(state.cluster, {
          vmId: spec.vmId,
          vint0: vint0Of === undefined ? spec.vint0 : pool.members[vint0Of]!.vint0,
          endpoint: endpoint === "own" ? spec.endpoints[0] : endpoint,
          description: "",
        });
        const options = probes ? { probePort: PROBE } : {};
        const after: ClusterState = { ...state, members: [...state.members, member] };
        const general = outcome(() => planTransition(state, after, new Set([member.vmId]), options));
        expect(outcome(() => planAdd(state, member, options))).toEqual(general);
      }),
      { numRuns: 400 },
    );
  });

  it("compiles only the new switch: every peer's batch shares the same rule objects", () => {
    const specs = Array.from(
      { length: 20 },
      (_, i) => [`vm${i}`, `198.18.0.${i + 1}`, `192.0.2.${i + 1}`] as const,
    );
    const state = makeState(42, specs);
    const member = memberOf(state.cluster, {
      vmId: "new",
      vint0: "198.18.0.99",
      endpoint: "203.0.113.9",
      description: "",
    });
    const plan = planAdd(state, member, { probePort: PROBE });
    const peers = plan[0].batches.filter((b) => !b.fresh);
    expect(peers).toHaveLength(20);
    for (const b of peers) expect(b.add).toBe(peers[0]!.add);
    const own = plan[0].batches.find((b) => b.fresh)!;
    expect(own.add).toHaveLength(20 * 4 + 1);
    expect(plan[1].batches.every((b) => b.add === plan[1].batches[0]!.add)).toBe(true);
  });
});

describe("planRemove (incremental)", () => {
  it("is exactly the general make-before-break plan", () => {
    fc.assert(
      fc.property(memberCase, ({ pool, picks, announced, which, probes }) => {
        const state = stateFrom(
          pool,
          picks.map((p, i) => (i === which && p === "absent" ? 0 : p)),
          announced,
        );
        const vmId = pool.members[which]!.vmId;
        const options = probes ? { probePort: PROBE } : {};
        const after: ClusterState = { ...state, members: state.members.filter((m) => m.vmId !== vmId) };
        const general = outcome(() => planTransition(state, after, new Set(), options));
        expect(outcome(() => planRemove(state, vmId, options))).toEqual(general);
      }),
      { numRuns: 400 },
    );
  });

  it("after any sequence of adds, removes, rebinds and announcements, every switch is compiled as from scratch", () => {
    fc.assert(
      fc.property(
        poolArb(7),
        fc.array(fc.tuple(fc.nat({ max: 6 }), fc.constantFrom("toggle", "rebind", "announce", "withdraw")), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.boolean(),
        (pool, steps, probes) => {
          const options = probes ? { probePort: PROBE } : {};
          let state = makeState(pool.vni, []);
          for (const [step, op] of steps) {
            const spec = pool.members[step % pool.members.length]!;
            const present = state.members.find((m) => m.vmId === spec.vmId);
            // The member's other pool endpoint: free, since endpoints are distinct across the pool.
            const other = present && spec.endpoints.find((e) => e !== present.endpoint)!;
            if (!present) {
              const m = memberOf(state.cluster, {
                vmId: spec.vmId,
                vint0: spec.vint0,
                endpoint: spec.endpoints[0],
                description: "",
              });
              planAdd(state, m, options);
              state = { ...state, members: [...state.members, m] };
            } else if (op === "toggle") {
              planRemove(state, spec.vmId, options);
              state = { ...state, members: state.members.filter((m) => m.vmId !== spec.vmId) };
            } else if (op === "rebind") {
              planRebind(state, spec.vmId, other!, options);
              state = rebindState(state, spec.vmId, other!);
            } else {
              const next = op === "announce" ? other! : null;
              planAnnounce(state, spec.vmId, next, options);
              state = replaceMember(state, spec.vmId, { nextEndpoint: next });
            }
            // What each switch should hold, sorted from the rules about its peers (no cached union).
            for (const self of state.members) {
              const own = compileSwitch(state, self.vmId, options);
              const naive = sortRules([
                ...state.members
                  .filter((m) => m !== self)
                  .flatMap((m) => memberRules(state.cluster.vni, m, options)),
                own.at(-1)!,
              ]);
              expect(own).toEqual(naive);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("deriveUnion", () => {
  it("derives nothing for a member that shares a vint0 or an endpoint: the switch at fault is named as before", () => {
    const state = makeState(42, [
      ["a", "198.18.0.1", "192.0.2.10"],
      ["b", "198.18.0.2", "198.51.100.20"],
    ]);
    for (const [vint0, endpoint] of [
      ["198.18.0.3", "192.0.2.10"],
      ["198.18.0.1", "203.0.113.30"],
    ] as const) {
      const c = memberOf(state.cluster, { vmId: "c", vint0, endpoint, description: "" });
      const after = { ...state, members: [...state.members, c] };
      expect(deriveUnion(state, after)).toBe(false);
      expect(() => compileSwitch(after, "b")).toThrow(/PIPELINE|same table, priority and match/);
    }
  });
});

describe("forgetVni", () => {
  it("drops a deleted cluster's cached rules, and only that cluster's", () => {
    const web = makeState(42, [["a", "198.18.0.1", "192.0.2.10"]]);
    const db = makeState(43, [["a", "198.18.0.1", "192.0.2.10"]], "db");
    const peer = web.members[0]! as (typeof web.members)[0] & { endpoint: string };
    const [webRules, dbRules] = [peerRules(42, peer), peerRules(43, peer)];
    const union = compileSwitch(web, "a");
    forgetVni(42);
    expect(peerRules(42, peer)).not.toBe(webRules);
    expect(peerRules(42, peer)).toEqual(webRules);
    expect(peerRules(43, peer)).toBe(dbRules);
    expect(compileSwitch(web, "a")).toEqual(union);
    expect(compileSwitch(db, "a")).toHaveLength(1);
  });
});

describe("planCreate", () => {
  it("with every member named is the general plan from an empty cluster; naming fewer keeps only their batches", () => {
    fc.assert(
      fc.property(
        memberCase,
        fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        ({ pool, picks, probes }, named) => {
          const state = stateFrom(pool, picks);
          const options = probes ? { probePort: PROBE } : {};
          const all = new Set(state.members.map((m) => m.vmId));
          const empty: ClusterState = { ...state, members: [] };
          const general = outcome(() => planTransition(empty, state, all, options));
          expect(outcome(() => planCreate(state, all, options))).toEqual(general);
          const some = new Set(state.members.filter((_, i) => named[i]).map((m) => m.vmId));
          const plan = outcome(() => planCreate(state, some, options));
          if (general instanceof Error) return;
          const [prepare] = general as ReturnType<typeof planCreate>;
          expect(plan).toEqual([
            { name: "prepare", batches: prepare.batches.filter((b) => some.has(b.vmId)) },
            { name: "switch", batches: [] },
            { name: "cleanup", batches: [] },
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
