import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isEgressRule } from "../../controller/compiler/cookie.ts";
import { compileSwitch } from "../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../controller/compiler/format.ts";
import {
  type MemberMove,
  planBatchTransition,
  planRebind,
  planRebindBatch,
  rebindBatchState,
  type TransitionPlan,
} from "../../controller/compiler/transition-planner.ts";
import type { ClusterState } from "../../controller/model/cluster-state.ts";
import { replaceMember } from "../../controller/model/cluster-state.ts";
import { announcedArb, endpointArb, picksArb, poolArb, stateFrom } from "./support/arbitraries.ts";
import { makeState, outcome } from "./support/fixtures.ts";

const PROBE = 48879;

/** A state, and moves for some of its members: to their other pool address, their announced one, or any. */
const batchCase = poolArb(7).chain((pool) =>
  fc.record({
    pool: fc.constant(pool),
    picks: picksArb(pool),
    announced: announcedArb(pool),
    moving: fc.array(fc.boolean(), { minLength: pool.members.length, maxLength: pool.members.length }),
    how: fc.array(fc.constantFrom("other", "announce-other", "any"), {
      minLength: pool.members.length,
      maxLength: pool.members.length,
    }),
    any: fc.array(endpointArb, { minLength: pool.members.length, maxLength: pool.members.length }),
    probes: fc.boolean(),
  }),
);

type BatchCase = {
  pool: Parameters<typeof stateFrom>[0];
  picks: Parameters<typeof stateFrom>[1];
  announced: boolean[];
  moving: boolean[];
  how: ("other" | "announce-other" | "any")[];
  any: string[];
  probes: boolean;
};

function movesOf(c: BatchCase): {
  state: ClusterState;
  moves: MemberMove[];
} {
  let state = stateFrom(c.pool, c.picks, c.announced);
  const moves: MemberMove[] = [];
  c.pool.members.forEach((p, i) => {
    const member = state.members.find((m) => m.vmId === p.vmId);
    if (!member || !c.moving[i]) return;
    const other = p.endpoints.find((e) => e !== member.endpoint)!;
    const how = c.how[i]!;
    if (how === "any") {
      moves.push({ vmId: p.vmId, endpoint: c.any[i]! });
      return;
    }
    // Announced beforehand, as the mediation does, when no other member has that address.
    if (
      how === "announce-other" &&
      member.nextEndpoint === null &&
      !state.members.some((m) => m.endpoint === other)
    )
      state = replaceMember(state, p.vmId, { nextEndpoint: other });
    moves.push({ vmId: p.vmId, endpoint: other });
  });
  return { state, moves };
}

describe("planRebindBatch (incremental)", () => {
  it("is exactly the general batch plan, with and without probe rules, unusual batches included", () => {
    fc.assert(
      fc.property(batchCase, (c) => {
        const { state, moves } = movesOf(c);
        const options = c.probes ? { probePort: PROBE } : {};
        const general = outcome(() =>
          planBatchTransition(
            state,
            rebindBatchState(state, moves),
            new Set(moves.map((m) => m.vmId)),
            options,
          ),
        );
        expect(outcome(() => planRebindBatch(state, moves, options))).toEqual(general);
      }),
      { numRuns: 400 },
    );
  });

  it("is make-before-break among moved members and peers: during every phase each live switch sends only where it is accepted (in any order of batches), and after the switch phase only to new instances", () => {
    fc.assert(
      fc.property(batchCase, (c) => {
        const { state: base, moves: all } = movesOf({ ...c, how: c.how.map(() => "announce-other") });
        // The mediation's case: every mover announced its new endpoint, no two moves clash.
        const moves = all.filter(
          (m) => base.members.find((x) => x.vmId === m.vmId)!.nextEndpoint === m.endpoint,
        );
        fc.pre(moves.length > 0);
        const state = base;
        const plan = planRebindBatch(state, moves, c.probes ? { probePort: PROBE } : {});
        checkLiveness(state, moves, plan, c.probes);
      }),
      { numRuns: 300 },
    );
  });

  it("for one member, is the single rebind's plan (planRebind) but for the new instance's egress, sent in the switch phase instead of prepare", () => {
    fc.assert(
      fc.property(batchCase, fc.nat(), (c, k) => {
        const { state, moves } = movesOf(c);
        fc.pre(moves.length > 0);
        const { vmId, endpoint } = moves[k % moves.length]!;
        // What the service plans: the member moves, to an endpoint no other member uses or announced.
        fc.pre(
          state.members.every((m) =>
            m.vmId === vmId
              ? m.endpoint !== endpoint
              : m.endpoint !== endpoint && m.nextEndpoint !== endpoint,
          ),
        );
        const options = c.probes ? { probePort: PROBE } : {};
        const [prepare, switchOver, cleanup] = planRebind(state, vmId, endpoint, options);
        const own = prepare.batches.find((b) => b.vmId === vmId)!;
        const send = own.add.filter(isEgressRule);
        const expected: TransitionPlan = [
          {
            ...prepare,
            batches: prepare.batches.map((b) =>
              b === own ? { ...b, add: b.add.filter((r) => !isEgressRule(r)) } : b,
            ),
          },
          {
            ...switchOver,
            batches: [...switchOver.batches, ...(send.length > 0 ? [{ ...own, add: send }] : [])].sort(
              (a, b) => (a.dpid < b.dpid ? -1 : a.dpid > b.dpid ? 1 : 0),
            ),
          },
          cleanup,
        ];
        expect(planRebindBatch(state, [{ vmId, endpoint }], options)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it("refuses an unknown member as a single rebind does", () => {
    const state = makeState(42, [["a", "198.18.0.1", "192.0.2.1"]]);
    expect(() => planRebindBatch(state, [{ vmId: "zz", endpoint: "192.0.2.9" }])).toThrow(/no member 'zz'/);
  });

  it("sends every moved member's new endpoint to each peer in one batch of shared rule objects", () => {
    const specs = Array.from(
      { length: 20 },
      (_, i) => [`vm${i}`, `198.18.0.${i + 1}`, `192.0.2.${i + 1}`] as const,
    );
    const plan = planRebindBatch(makeState(42, specs), [
      { vmId: "vm3", endpoint: "203.0.113.3" },
      { vmId: "vm7", endpoint: "203.0.113.7" },
    ]);
    const [prepare, switchOver, cleanup] = plan;
    // Peers: prepare accepts both new endpoints; one switch batch each sends to both; cleanup forgets both.
    const peers = switchOver.batches.filter((b) => !b.fresh);
    expect(peers).toHaveLength(18);
    for (const b of peers) expect(b.add).toBe(peers[0]!.add);
    expect(peers[0]!.add.map(formatRule).filter((r) => r.includes("->tun_dst"))).toHaveLength(4);
    // Each moved member's new instance: accepts in prepare, sends to the other's new endpoint in switch.
    const vm3 = (p: TransitionPlan[number]) => p.batches.find((b) => b.vmId === "vm3")!;
    expect(vm3(prepare).fresh).toBe(true);
    expect(
      vm3(prepare)
        .add.map(formatRule)
        .some((r) => r.includes("tun_src=203.0.113.7")),
    ).toBe(true);
    expect(
      vm3(prepare)
        .add.map(formatRule)
        .some((r) => r.includes("->tun_dst")),
    ).toBe(false);
    expect(
      vm3(switchOver)
        .add.map(formatRule)
        .some((r) => r.includes("203.0.113.7->tun_dst")),
    ).toBe(true);
    expect(
      vm3(cleanup)
        .delete.map(formatRule)
        .every((r) => r.includes("tun_src=192.0.2.8")),
    ).toBe(true);
  });
});

/**
 * Simulates every switch instance through the plan: stayers, each moved member's old instance
 * (untouched: the batches go to the session at the new endpoint) and new one (reconciled before
 * any other member announced, the worst case: it learns of their new endpoints from the batch).
 * Within a phase the switches apply their batches in any order, so every sender, before or after
 * its batch, must reach an instance that accepts its source, before or after that one's batch;
 * after the switch phase, live instances send only to new instances.
 */
function checkLiveness(
  state: ClusterState,
  moves: readonly MemberMove[],
  plan: TransitionPlan,
  probes: boolean,
) {
  const options = probes ? { probePort: PROBE } : {};
  const to = new Map(moves.map((m) => [m.vmId, m.endpoint]));
  const key = (r: string) => r.slice(0, r.indexOf(" actions="));
  const held = (rules: readonly ReturnType<typeof compileSwitch>[number][]) =>
    new Map(rules.map(formatRule).map((r) => [key(r), r]));
  const unannounced = {
    ...state,
    members: state.members.map((m) => (to.has(m.vmId) ? { ...m, nextEndpoint: null } : m)),
  };
  const old = new Map(state.members.map((m) => [m.vmId, held(compileSwitch(state, m.vmId, options))]));
  const fresh = new Map(moves.map((m) => [m.vmId, held(compileSwitch(unannounced, m.vmId, options))]));
  const source = (vmId: string) => to.get(vmId) ?? state.members.find((m) => m.vmId === vmId)!.endpoint;
  type Instances = { old: Map<string, Map<string, string>>; fresh: Map<string, Map<string, string>> };
  const copy = (x: Instances): Instances => ({
    old: new Map([...x.old].map(([k, v]) => [k, new Map(v)])),
    fresh: new Map([...x.fresh].map(([k, v]) => [k, new Map(v)])),
  });
  const now: Instances = { old, fresh };
  const live = (x: Instances, vmId: string) => x.fresh.get(vmId) ?? x.old.get(vmId)!;
  plan.forEach((phase, k) => {
    const before = copy(now);
    for (const b of phase.batches) {
      const rules = live(now, b.vmId);
      for (const r of b.add.map(formatRule)) rules.set(key(r), r);
      for (const r of b.delete.map(formatRule)) rules.delete(key(r));
    }
    for (const s of state.members) {
      const src = source(s.vmId);
      if (src === null) continue;
      for (const sender of [before, now]) {
        for (const rule of live(sender, s.vmId).values()) {
          const m = /nw_dst=([\d.]+) actions=set_field:([\d.]+)->tun_dst/.exec(rule);
          if (!m) continue;
          const r = state.members.find((x) => x.vint0 === m[1])!;
          if (k >= 1 && sender === now)
            expect(m[2], `${s.vmId} -> ${r.vmId} after ${phase.name}`).toBe(source(r.vmId));
          for (const receiver of [before, now]) {
            const at = to.get(r.vmId) === m[2] ? receiver.fresh.get(r.vmId)! : receiver.old.get(r.vmId)!;
            const accepts = [...at.values()].some((x) => x.includes(`tun_src=${src} actions=output:2`));
            expect(accepts, `${s.vmId} (${src}) -> ${r.vmId} at ${m[2]} during ${phase.name}`).toBe(true);
          }
        }
      }
    }
  });
}
