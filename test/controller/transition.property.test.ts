import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileCluster } from "../../controller/compiler/flow-compiler.ts";
import type { Rule } from "../../controller/compiler/rule.ts";
import {
  planAdd,
  planRebind,
  planRemove,
  planTransition,
  rebindState,
  type TransitionPlan,
} from "../../controller/compiler/transition-planner.ts";
import { type ClusterState, replaceMember } from "../../controller/model/cluster-state.ts";
import { announcedArb, endpointArb, picksArb, poolArb, stateFrom } from "./support/arbitraries.ts";
import { deliver, deliverAll, type Instance } from "./support/forwarding.ts";
import { applyBatch, asSet } from "./support/switch-model.ts";

// What make-before-break guarantees, checked after every single switch's batch (switches in a
// phase are applied in parallel, so any order and any subset is a real intermediate state):
//
// During a rebind of X from E_old to E_new, the old instance of X keeps running at E_old until
// cleanup, and the new one runs at E_new from the start. Then, at every moment:
//  1. traffic between two other members is untouched;
//  2. every peer P that could reach X before still reaches an instance of X (old or new);
//  3. whichever instance P reaches can answer P (no one-way path: P accepts that instance's source);
//  4. the old instance reaches every peer until cleanup starts (its traffic is not cut before
//     peers moved to the new one), and the new one reaches every peer once prepare is done;
// and at the end every switch holds exactly the compiled target state, peers reach only the new instance.

interface World {
  instances: Instance[];
  /** Which instance a batch for this vmId (fresh or not) lands on. */
  target: (vmId: string, fresh: boolean) => Instance | undefined;
}

function rulesByVm(state: ClusterState): Map<string, Rule[]> {
  return new Map(compileCluster(state).map((s) => [s.vmId, [...s.rules]]));
}

/** Applies the plan one batch at a time, phase by phase, in `order`, calling `check` after each. */
function runInterleaved(
  plan: TransitionPlan,
  world: World,
  order: readonly number[],
  check: (phase: number, phaseDone: boolean) => void,
): void {
  let k = 0;
  plan.forEach((phase, p) => {
    const batches = phase.batches
      .map((b) => ({ b, key: order[k++ % order.length]! }))
      .sort((x, y) => x.key - y.key)
      .map((x) => x.b);
    for (const batch of batches) {
      const inst = world.target(batch.vmId, batch.fresh);
      if (inst) applyBatch(inst.rules, batch);
      check(p, false);
    }
    check(p, true);
  });
}

const rebindCase = poolArb(6).chain((pool) =>
  fc.record({
    pool: fc.constant(pool),
    picks: picksArb(pool),
    moverIndex: fc.nat({ max: pool.members.length - 1 }),
    newEndpoint: endpointArb,
    // Peers' announced next endpoints; the mover's: none, the one it moves to, or another.
    announced: announcedArb(pool),
    moverAnnounced: fc.constantFrom("none", "same", "other"),
    // Whether the new instance's switch was already reconciled (on connect) or is empty.
    reconciled: fc.boolean(),
    order: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
  }),
);

describe("make-before-break rebind", () => {
  it("never cuts a path that existed, never leaves a one-way path, and ends in the compiled state", () => {
    fc.assert(
      fc.property(
        rebindCase,
        ({ pool, picks, moverIndex, newEndpoint, announced, moverAnnounced, reconciled, order }) => {
          const announcing = stateFrom(
            pool,
            picks.map((p, i) => (i === moverIndex && p === "absent" ? 0 : p)),
            announced.map((a, i) => a && (i !== moverIndex || moverAnnounced === "other")),
          );
          const mover = pool.members[moverIndex]!.vmId;
          fc.pre(
            !announcing.members.some(
              (m) => m.endpoint === newEndpoint || (m.vmId !== mover && m.nextEndpoint === newEndpoint),
            ),
          );
          const before =
            moverAnnounced === "same"
              ? replaceMember(announcing, mover, { nextEndpoint: newEndpoint })
              : announcing;
          const x = before.members.find((m) => m.vmId === mover)!;
          fc.pre(x.nextEndpoint !== newEndpoint || moverAnnounced === "same");
          const after = rebindState(before, mover, newEndpoint);
          const was = rulesByVm(before);

          const peers: Instance[] = before.members
            .filter((m) => m.vmId !== mover && m.endpoint !== null)
            .map((m) => ({
              name: m.vmId,
              vmId: m.vmId,
              vint0: m.vint0,
              endpoint: m.endpoint!,
              rules: was.get(m.vmId)!,
            }));
          const xOld: Instance | undefined =
            x.endpoint === null
              ? undefined
              : {
                  name: "X-old",
                  vmId: mover,
                  vint0: x.vint0,
                  endpoint: x.endpoint,
                  rules: [...was.get(mover)!],
                };
          const xNew: Instance = {
            name: "X-new",
            vmId: mover,
            vint0: x.vint0,
            endpoint: newEndpoint,
            rules: reconciled ? [...was.get(mover)!] : [],
          };
          const instances = [...peers, ...(xOld ? [xOld] : []), xNew];
          const world: World = {
            instances,
            target: (vmId, fresh) =>
              vmId === mover ? (fresh ? xNew : undefined) : peers.find((p) => p.vmId === vmId),
          };

          // Announced (and the new instance reconciled): before the rebind, the new instance already
          // reaches every peer, and every peer's ARP for X reaches both instances.
          if (moverAnnounced === "same" && reconciled && xOld) {
            for (const p of peers) {
              expect(deliver(instances, xNew, p.vint0)?.name, `X-new -> ${p.name} before the rebind`).toBe(
                p.name,
              );
              expect(
                deliverAll(instances, p, x.vint0, "arp")
                  .map((i) => i.name)
                  .sort(),
              ).toEqual(["X-new", "X-old"]);
            }
          }

          const plan = planRebind(before, mover, newEndpoint);
          // The old instance's switch is never touched: only its replacement is.
          expect(plan.flatMap((p) => p.batches).filter((b) => b.vmId === mover && !b.fresh)).toEqual([]);

          runInterleaved(plan, world, order, (phase, phaseDone) => {
            for (const p of peers) {
              for (const q of peers) {
                if (p !== q) expect(deliver(instances, p, q.vint0)?.name).toBe(q.name);
              }
              const reached = deliver(instances, p, x.vint0);
              if (xOld) expect(reached, `${p.name} -> X in phase ${phase}`).toBeDefined();
              if (reached)
                expect(deliver(instances, reached, p.vint0)?.name, `reply ${reached.name} -> ${p.name}`).toBe(
                  p.name,
                );
              if (xOld && phase < 2) expect(deliver(instances, xOld, p.vint0)?.name).toBe(p.name);
              if (phase > 0 || phaseDone) expect(deliver(instances, xNew, p.vint0)?.name).toBe(p.name);
            }
          });

          const target = rulesByVm(after);
          for (const p of peers) expect(asSet(p.rules)).toEqual(asSet(target.get(p.vmId)!));
          expect(asSet(xNew.rules)).toEqual(asSet(target.get(mover)!));
          for (const p of peers) {
            expect(deliver(instances, p, x.vint0)?.name).toBe("X-new");
            expect(deliver(instances, p, x.vint0, "arp")?.name).toBe("X-new");
            if (xOld) expect(deliver(instances, xOld, p.vint0)).toBeUndefined();
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("fails the same checks if peers were switched before the new instance was ready (the checks bite)", () => {
    const before = stateFrom(
      {
        vni: 42,
        members: [
          { vmId: "vm0", vint0: "198.18.0.1", endpoints: ["192.0.2.1", "192.0.2.2"] },
          { vmId: "vm1", vint0: "198.18.0.2", endpoints: ["198.51.100.1", "198.51.100.2"] },
        ],
      },
      [0, 0],
    );
    const [prepare, switchPhase, cleanup] = planRebind(before, "vm0", "203.0.113.9");
    const wrongOrder: TransitionPlan = [switchPhase, prepare, cleanup];
    const was = rulesByVm(before);
    const peer: Instance = {
      name: "vm1",
      vmId: "vm1",
      vint0: "198.18.0.2",
      endpoint: "198.51.100.1",
      rules: was.get("vm1")!,
    };
    const xNew: Instance = {
      name: "X-new",
      vmId: "vm0",
      vint0: "198.18.0.1",
      endpoint: "203.0.113.9",
      rules: [],
    };
    const xOld: Instance = {
      name: "X-old",
      vmId: "vm0",
      vint0: "198.18.0.1",
      endpoint: "192.0.2.1",
      rules: was.get("vm0")!,
    };
    const instances = [peer, xOld, xNew];
    const broken: string[] = [];
    runInterleaved(
      wrongOrder,
      { instances, target: (vmId, fresh) => (vmId === "vm1" ? peer : fresh ? xNew : undefined) },
      [0],
      (phase) => {
        if (!deliver(instances, peer, "198.18.0.1")) broken.push(`phase ${phase}`);
      },
    );
    expect(broken.length).toBeGreaterThan(0);
  });
});

describe("member add and remove", () => {
  const changeCase = poolArb(6).chain((pool) =>
    fc.record({
      pool: fc.constant(pool),
      before: picksArb(pool),
      after: picksArb(pool),
      order: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
    }),
  );

  /** Runs `plan` from `before` to `after` batch by batch, checking every stable path at every step. */
  function holdsThroughout(
    before: ClusterState,
    after: ClusterState,
    plan: TransitionPlan,
    order: number[],
  ): void {
    const was = rulesByVm(before);
    const added = new Set(
      after.members.filter((m) => !before.members.some((o) => o.vmId === m.vmId)).map((m) => m.vmId),
    );
    const instances: Instance[] = [...before.members, ...after.members.filter((m) => added.has(m.vmId))]
      .filter((m) => m.endpoint !== null)
      .map((m) => ({
        name: m.vmId,
        vmId: m.vmId,
        vint0: m.vint0,
        endpoint: m.endpoint!,
        rules: was.get(m.vmId) ?? [],
      }));
    const stable = instances.filter(
      (i) => after.members.some((m) => m.vmId === i.vmId) && !added.has(i.vmId),
    );
    runInterleaved(
      plan,
      { instances, target: (vmId) => instances.find((i) => i.vmId === vmId) },
      order,
      () => {
        for (const p of stable) {
          for (const q of stable) if (p !== q) expect(deliver(instances, p, q.vint0)?.name).toBe(q.name);
        }
      },
    );
    const target = rulesByVm(after);
    for (const i of instances) {
      if (target.has(i.vmId)) expect(asSet(i.rules)).toEqual(asSet(target.get(i.vmId)!));
    }
  }

  it("keeps every path that exists before and after working at every step, and ends compiled", () => {
    fc.assert(
      fc.property(changeCase, ({ pool, before: b, after: a, order }) => {
        // Members keep their endpoint or appear/disappear; endpoint changes are rebinds (above).
        const picksAfter = a.map((p, i) => (p === "absent" || b[i] === "absent" ? p : b[i]!));
        const before = stateFrom(pool, b);
        const after = stateFrom(pool, picksAfter);
        const added = new Set(
          after.members.filter((m) => !before.members.some((o) => o.vmId === m.vmId)).map((m) => m.vmId),
        );
        holdsThroughout(before, after, planTransition(before, after, added), order);
      }),
      { numRuns: 300 },
    );
  });

  it("holds for one member added (planAdd) or removed (planRemove), the incremental planners", () => {
    fc.assert(
      fc.property(changeCase, fc.nat({ max: 5 }), ({ pool, before: b, order }, k) => {
        const i = k % pool.members.length;
        const before = stateFrom(pool, b);
        const spec = pool.members[i]!;
        if (before.members.some((m) => m.vmId === spec.vmId)) {
          const after = stateFrom(
            pool,
            b.map((p, j) => (j === i ? "absent" : p)),
          );
          holdsThroughout(before, after, planRemove(before, spec.vmId), order);
        } else {
          const after = stateFrom(
            pool,
            b.map((p, j) => (j === i ? 0 : p)),
          );
          const member = after.members.find((m) => m.vmId === spec.vmId)!;
          holdsThroughout(before, after, planAdd(before, member), order);
        }
      }),
      { numRuns: 300 },
    );
  });
});
