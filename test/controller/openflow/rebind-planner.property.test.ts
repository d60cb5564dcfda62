import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ruleKind } from "../../../controller/compiler/cookie.ts";
import { compileCluster, compileSwitch, peerRules } from "../../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../../controller/compiler/format.ts";
import { checkRules } from "../../../controller/compiler/pipeline.ts";
import { type Rule, sortRules } from "../../../controller/compiler/rule.ts";
import {
  planAnnounce,
  planRebind,
  planTransition,
  rebindState,
} from "../../../controller/compiler/transition-planner.ts";
import { replaceMember } from "../../../controller/model/cluster-state.ts";
import { OFPP } from "../../../proto/index.ts";
import { announcedArb, endpointArb, picksArb, poolArb, stateFrom } from "../support/arbitraries.ts";
import { makeState, outcome } from "../support/fixtures.ts";

const PROBE = 48879;

const rebindCase = poolArb(7).chain((pool) =>
  fc.record({
    pool: fc.constant(pool),
    picks: picksArb(pool),
    mover: fc.nat({ max: pool.members.length - 1 }),
    endpoint: endpointArb,
    announced: announcedArb(pool),
    // The mover announced the endpoint it now moves to (or, with `announced`, another one).
    announcedSame: fc.boolean(),
    probes: fc.boolean(),
  }),
);

describe("planRebind (incremental)", () => {
  it("is exactly the general make-before-break plan, with and without probe rules", () => {
    fc.assert(
      fc.property(rebindCase, ({ pool, picks, mover, endpoint, announced, announcedSame, probes }) => {
        const vmId = pool.members[mover]!.vmId;
        const base = stateFrom(
          pool,
          picks.map((p, i) => (i === mover && p === "absent" ? 0 : p)),
          announced,
        );
        const own = base.members.find((m) => m.vmId === vmId)!;
        const taken = base.members.some((m) => m.vmId !== vmId && m.nextEndpoint === endpoint);
        const state =
          announcedSame && own.endpoint !== endpoint && !taken
            ? replaceMember(base, vmId, { nextEndpoint: endpoint })
            : base;
        const options = probes ? { probePort: PROBE } : {};
        // Same plan, or the same refusal (an endpoint another member holds is a pipeline violation).
        const general = outcome(() =>
          planTransition(state, rebindState(state, vmId, endpoint), new Set([vmId]), options),
        );
        expect(outcome(() => planRebind(state, vmId, endpoint, options))).toEqual(general);
      }),
      { numRuns: 300 },
    );
  });

  it("planAnnounce is exactly the general plan for announcing, replacing and withdrawing a next endpoint", () => {
    fc.assert(
      fc.property(
        rebindCase,
        fc.constantFrom("new", "own-other", "withdraw"),
        ({ pool, picks, mover, endpoint, announced, probes }, how) => {
          const vmId = pool.members[mover]!.vmId;
          const state = stateFrom(
            pool,
            picks.map((p, i) => (i === mover && p === "absent" ? 0 : p)),
            announced,
          );
          const own = state.members.find((m) => m.vmId === vmId)!;
          // A fresh address, the member's other pool address (its current next endpoint when it
          // announced one), or none.
          const next =
            how === "withdraw"
              ? null
              : how === "new"
                ? endpoint
                : pool.members[mover]!.endpoints.find((e) => e !== own.endpoint)!;
          const options = probes ? { probePort: PROBE } : {};
          const general = outcome(() =>
            planTransition(state, replaceMember(state, vmId, { nextEndpoint: next }), new Set(), options),
          );
          expect(outcome(() => planAnnounce(state, vmId, next, options))).toEqual(general);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("shares rule objects among every peer's batch (so each is encoded once)", () => {
    const specs = Array.from(
      { length: 20 },
      (_, i) => [`vm${i}`, `198.18.0.${i + 1}`, `192.0.2.${i + 1}`] as const,
    );
    const plan = planRebind(makeState(42, specs), "vm3", "203.0.113.9", { probePort: PROBE });
    const peers = plan[1].batches;
    expect(peers).toHaveLength(19);
    for (const b of peers) expect(b.add[0]).toBe(peers[0]!.add[0]);
  });
});

describe("compileSwitch from the cluster's shared union", () => {
  it("equals sorting that switch's peers' rules on its own, for every member, in any member order", () => {
    fc.assert(
      fc.property(
        poolArb(7).chain((pool) =>
          fc.record({ pool: fc.constant(pool), picks: picksArb(pool), probes: fc.boolean() }),
        ),
        ({ pool, picks, probes }) => {
          const state = stateFrom(pool, picks);
          fc.pre(state.members.length > 0);
          fc.pre(
            new Set(state.members.map((m) => m.endpoint).filter((e) => e !== null)).size ===
              state.members.filter((m) => m.endpoint !== null).length,
          );
          const options = probes ? { probePort: PROBE } : {};
          for (const self of state.members) {
            const own = compileSwitch(state, self.vmId, options);
            const peers = state.members.filter((m) => m.vmId !== self.vmId && m.endpoint !== null);
            const naive = sortRules([
              ...peers.flatMap((p) => peerRules(state.cluster.vni, { ...p, endpoint: p.endpoint! }, options)),
              own.at(-1)!,
            ]);
            expect(own.map(formatRule)).toEqual(naive.map(formatRule));
            expect(checkRules(own)).toEqual([]);
            const reversed = { ...state, members: [...state.members].reverse() };
            expect(compileSwitch(reversed, self.vmId, options).map(formatRule)).toEqual(own.map(formatRule));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("probe rules", () => {
  const state = makeState(42, [
    ["a", "198.18.0.1", "192.0.2.10"],
    ["b", "198.18.0.2", "198.51.100.20"],
    ["c", "198.18.0.3", null],
  ]);

  it("are one per reachable peer, above ingress, from that peer's tunnel to the controller, and pass the pipeline", () => {
    const rules = compileSwitch(state, "a", { probePort: PROBE });
    expect(rules.map(formatRule)).toContain(
      "cookie=0x1c00002a05000000,table=0,priority=110,ip,in_port=1,tun_id=0x2a,tun_src=198.51.100.20,nw_proto=17,udp_src=48879,udp_dst=48879 actions=controller(max_len=128)",
    );
    expect(rules.filter((r) => ruleKind(r) === "probe")).toHaveLength(1);
    expect(checkRules(rules)).toEqual([]);
    for (const sw of compileCluster(state, { probePort: PROBE })) expect(checkRules(sw.rules)).toEqual([]);
  });

  it("are the only rules the pipeline lets send to the controller", () => {
    const ingress = compileSwitch(state, "a").find((r) => ruleKind(r) === "ingress")!;
    const leak: Rule = {
      ...ingress,
      instructions: [
        { kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: OFPP.CONTROLLER, maxLen: 128 }] },
      ],
    };
    expect(checkRules([leak, compileSwitch(state, "a").at(-1)!]).map((v) => v.message)).toContain(
      `OUTPUT to port ${OFPP.CONTROLLER} is only for rules of kind probe`,
    );
  });

  it("are compiled only when asked for: the default rule set is unchanged", () => {
    expect(compileSwitch(state, "a").map(ruleKind)).toEqual([
      "egress-ip",
      "egress-arp",
      "ingress",
      "table-miss",
    ]);
  });
});
