import { describe, expect, it } from "vitest";
import { diffRules, isEmptyDiff } from "../../controller/compiler/diff.ts";
import { compileCluster, compileSwitch } from "../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../controller/compiler/format.ts";
import { assertPipeline, checkRules } from "../../controller/compiler/pipeline.ts";
import {
  compareRules,
  type Rule,
  ruleContent,
  ruleIdentity,
  sortRules,
} from "../../controller/compiler/rule.ts";
import {
  isEmptyPlan,
  planAnnounce,
  planRebind,
  planTransition,
  rebindState,
} from "../../controller/compiler/transition-planner.ts";
import { ControllerError } from "../../controller/errors.ts";
import { replaceMember } from "../../controller/model/cluster-state.ts";
import { makeState } from "./support/fixtures.ts";

// Edges of controller/compiler that mutation testing found untested. Mutants left alive on
// purpose, as equivalent:
// - the caches in flow-compiler.ts (union, peer rules, member keys): their size, eviction, LRU
//   refresh and the "invalid" marker change how often rules are computed, never which rules.
// - planRebind/planAnnounce choosing the general path (planTransition) where the fast path is
//   right: both give the same plan (property-tested in transition.property.test.ts); the cases
//   below are those where only the general path is right.
// - rule.ts's mask text in fieldKey for a typed field whose mask is a default: no rule we build
//   or read carries one.

const SEVEN = {
  UNKNOWN: { field: "UNKNOWN", oxmClass: 1, oxmField: 31, hasMask: false, value: new Uint8Array([7]) },
} as const;

/** A plan, or the error it was refused with (an endpoint two members would share breaks the pipeline). */
function outcome(plan: () => unknown): unknown {
  try {
    return { plan: plan() };
  } catch (err) {
    return { error: err instanceof ControllerError ? `${err.code}: ${err.message}` : String(err) };
  }
}

function controllerError(fn: () => unknown): ControllerError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ControllerError) return err;
    throw err;
  }
  throw new Error("expected a ControllerError");
}

describe("rule order and content", () => {
  const rule = (over: Partial<Rule>): Rule => ({
    tableId: 0,
    priority: 100,
    cookie: 1n,
    match: [],
    instructions: [],
    ...over,
  });

  it("sorts by table, priority (highest first), cookie, then match", () => {
    const inOrder = [
      rule({ tableId: 0, priority: 110, cookie: 9n }),
      rule({ tableId: 0, priority: 100, cookie: 1n, match: [{ field: "IN_PORT", value: 1 }] }),
      rule({ tableId: 0, priority: 100, cookie: 1n, match: [{ field: "IN_PORT", value: 2 }] }),
      rule({ tableId: 0, priority: 100, cookie: 2n }),
      rule({ tableId: 1, priority: 200, cookie: 0n }),
    ];
    for (const shuffled of [
      [...inOrder].reverse(),
      [inOrder[2]!, inOrder[4]!, inOrder[0]!, inOrder[3]!, inOrder[1]!],
    ])
      expect(sortRules(shuffled)).toEqual(inOrder);
  });

  it("compares instructions by value: key order and absent keys do not count, bigints and bytes do", () => {
    const out = (extra: object) =>
      rule({ instructions: [{ kind: "APPLY_ACTIONS", actions: [extra as never] }] });
    expect(ruleContent(out({ kind: "OUTPUT", port: 1, maxLen: 0 }))).toBe(
      ruleContent(out({ maxLen: 0, port: 1, kind: "OUTPUT" })),
    );
    expect(ruleContent(out({ kind: "OUTPUT", port: 1, maxLen: 0, extra: undefined }))).toBe(
      ruleContent(out({ kind: "OUTPUT", port: 1, maxLen: 0 })),
    );
    const tunnel = (value: bigint) => out({ kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value } });
    expect(ruleContent(tunnel(42n))).not.toBe(ruleContent(tunnel(43n)));
    const raw = (b: number) =>
      out({ kind: "SET_FIELD", oxm: { ...SEVEN.UNKNOWN, value: new Uint8Array([b]) } });
    expect(ruleContent(raw(1))).not.toBe(ruleContent(raw(2)));
    const two = (a: number, b: number) =>
      rule({
        instructions: [
          {
            kind: "APPLY_ACTIONS",
            actions: [
              { kind: "OUTPUT", port: a, maxLen: 0 },
              { kind: "OUTPUT", port: b, maxLen: 0 },
            ],
          },
        ],
      });
    expect(ruleContent(two(1, 2))).not.toBe(ruleContent(two(2, 1)));
    // Identity: the match as a set, by masked value too.
    const m = (mask?: number) =>
      rule({ match: [{ field: "IN_PORT", value: 1, ...(mask !== undefined && { mask }) }] });
    expect(ruleIdentity(m(0xff))).not.toBe(ruleIdentity(m(0xf)));
  });
});

describe("ovs-ofctl text of rules beyond what the compiler makes", () => {
  it("prints raw OXM fields, masks, other ether types and non-apply instructions", () => {
    const text = formatRule({
      tableId: 1,
      priority: 7,
      cookie: 0x10n,
      match: [
        { field: "IN_PORT", value: 3, mask: 0xff } as never,
        { field: "ETH_TYPE", value: 0x86dd },
        SEVEN.UNKNOWN,
      ],
      instructions: [
        {
          kind: "APPLY_ACTIONS",
          actions: [{ kind: "SET_FIELD", oxm: SEVEN.UNKNOWN }, { kind: "POP_VLAN" } as never],
        },
        { kind: "GOTO_TABLE", tableId: 2 },
      ],
    });
    expect(text).toBe(
      "cookie=0x10,table=1,priority=7,dl_type=0x86dd,in_port=3/255,oxm(1:31) actions=set_field:oxm(1:31),pop_vlan,goto_table",
    );
    expect(
      formatRule({
        tableId: 0,
        priority: 1,
        cookie: 0n,
        match: [{ field: "ETH_TYPE", value: 0x0806, mask: 0xffff } as never],
        instructions: [],
      }),
    ).toBe("cookie=0x0,table=0,priority=1,eth_type=2054/65535 actions=drop");
  });
});

describe("a cluster whose rules cannot all be valid together", () => {
  // Two members share an endpoint (the model refuses it; the compiler must still not emit it).
  const state = makeState(42, [
    ["a", "198.18.0.1", "192.0.2.10"],
    ["b", "198.18.0.2", "192.0.2.10"],
    ["c", "198.18.0.3", "192.0.2.30"],
  ]);

  it("compiles each switch that sees no conflict, checked on its own", () => {
    const a = compileSwitch(state, "a").map(formatRule);
    expect(a.filter((t) => t.includes("198.18.0.1"))).toEqual([]);
    expect(a.filter((t) => t.includes("nw_dst=198.18.0.2"))).toHaveLength(1);
    expect(a.filter((t) => t.includes("nw_dst=198.18.0.3"))).toHaveLength(1);
    expect(a.at(-1)).toBe("cookie=0x1c00002a04000000,table=0,priority=0 actions=drop");
  });

  it("refuses the switch that would hold both, naming it and every violation", () => {
    const err = controllerError(() => compileSwitch(state, "c"));
    expect(err.code).toBe("PIPELINE_VIOLATION");
    expect(err.message).toMatch(/^switch of web\/c: rule \d+: .+/);
    expect(err.details?.violations).toEqual(
      expect.arrayContaining([expect.objectContaining({ rule: expect.any(Number) })]),
    );
    expect(() => compileCluster(state)).toThrow(/switch of web\/c/);
  });

  it("assertPipeline passes a valid list and names a missing table-miss", () => {
    const valid = compileSwitch(state, "a");
    expect(() => assertPipeline(valid, "x")).not.toThrow();
    const err = controllerError(() => assertPipeline(valid.slice(0, -1), "switch x"));
    expect(err.message).toBe("switch x: rule -1: table 0 has 0 table-miss rules, expected 1");
    expect(err.details).toEqual({
      violations: [{ rule: -1, message: "table 0 has 0 table-miss rules, expected 1" }],
    });
  });
});

describe("rebind and announce plans in the cases only the general plan gets right", () => {
  // vmIds in another order than dpids (vint0s), so batch order must come from the dpids.
  const state = makeState(42, [
    ["a", "198.18.0.9", "192.0.2.10", "192.0.2.11"],
    ["b", "198.18.0.2", "192.0.2.20"],
    ["c", "198.18.0.5", "192.0.2.30", "192.0.2.31"],
  ]);
  const general = (vmId: string, endpoint: string) =>
    outcome(() => planTransition(state, rebindState(state, vmId, endpoint), new Set([vmId])));

  it.each([
    ["its own endpoint again", "b", "192.0.2.20"],
    ["another member's endpoint", "b", "192.0.2.10"],
    ["another member's announced endpoint", "b", "192.0.2.31"],
    ["its own announced endpoint", "a", "192.0.2.11"],
    ["a fresh endpoint", "c", "192.0.2.99"],
  ])("rebind to %s", (_name, vmId, endpoint) => {
    expect(outcome(() => planRebind(state, vmId, endpoint))).toEqual(general(vmId, endpoint));
  });

  it.each([
    ["another member's endpoint", "b", "192.0.2.10"],
    ["its own endpoint", "b", "192.0.2.20"],
    ["another member's announced endpoint", "b", "192.0.2.11"],
    ["its own announcement again", "a", "192.0.2.11"],
    ["a new one in place of its own", "a", "192.0.2.12"],
    ["nothing (withdrawn)", "c", null],
    ["a fresh one", "b", "192.0.2.99"],
  ])("announce %s", (_name, vmId, next) => {
    expect(outcome(() => planAnnounce(state, vmId, next))).toEqual(
      outcome(() => planTransition(state, replaceMember(state, vmId, { nextEndpoint: next }), new Set())),
    );
  });

  it("names a member that is not there", () => {
    for (const fn of [() => rebindState(state, "zz", "192.0.2.99"), () => planAnnounce(state, "zz", null)]) {
      const err = controllerError(fn);
      expect({ code: err.code, field: err.field, message: err.message }).toEqual({
        code: "NOT_FOUND",
        field: "vmId",
        message: "vmId: cluster 'web' has no member 'zz'",
      });
    }
  });
});

describe("what the planners and the reconciler decide on", () => {
  const two = makeState(42, [
    ["a", "198.18.0.1", "192.0.2.10"],
    ["b", "198.18.0.2", "192.0.2.20"],
  ]);
  const rules = compileSwitch(two, "a");

  it("compareRules orders as sortRules does", () => {
    const shuffled = [...rules].reverse();
    expect([...shuffled].sort(compareRules)).toEqual(sortRules(shuffled));
    expect([...shuffled].sort(compareRules)).toEqual(rules);
    const raw = (b: number, hasMask: boolean) => ({
      tableId: 0,
      priority: 5,
      cookie: 0n,
      match: [{ ...SEVEN.UNKNOWN, hasMask, value: new Uint8Array([b]) }],
      instructions: [],
    });
    expect(compareRules(raw(1, false), raw(2, false))).toBeLessThan(0);
    expect(compareRules(raw(2, false), raw(1, false))).toBeGreaterThan(0);
    expect(compareRules(raw(1, false), raw(1, false))).toBe(0);
    expect(ruleIdentity(raw(1, true))).not.toBe(ruleIdentity(raw(1, false)));
  });

  it("an empty diff is one with neither adds nor deletes", () => {
    expect(isEmptyDiff(diffRules(rules, rules))).toBe(true);
    expect(isEmptyDiff(diffRules(rules.slice(1), rules))).toBe(false);
    expect(isEmptyDiff(diffRules(rules, rules.slice(1)))).toBe(false);
  });

  it("an empty plan is one with no batch in any phase", () => {
    expect(isEmptyPlan(planTransition(two, two, new Set()))).toBe(true);
    expect(isEmptyPlan(planRebind(two, "b", "192.0.2.99"))).toBe(false);
    const cleanupOnly = planAnnounce(replaceMember(two, "b", { nextEndpoint: "192.0.2.98" }), "b", null);
    expect(cleanupOnly[2].batches.length).toBeGreaterThan(0);
    expect(isEmptyPlan([cleanupOnly[0], { name: "switch", batches: [] }, cleanupOnly[2]])).toBe(false);
  });

  it("refuses to plan between two clusters", () => {
    const other = makeState(43, [["a", "198.18.0.1", "192.0.2.10"]]);
    expect(() => planTransition(two, other, new Set())).toThrow(
      "planTransition: before and after must be the same cluster",
    );
    expect(() => planTransition(two, makeState(42, [], "db"), new Set())).toThrow(/same cluster/);
  });

  it("names every way a rule breaks the pipeline", () => {
    const base = rules[0]!;
    const miss = rules.at(-1)!;
    const messages = (rule: Rule) => checkRules([rule, miss]).map((v) => v.message);
    const apply = (actions: unknown[]) => [{ kind: "APPLY_ACTIONS", actions }] as Rule["instructions"];
    expect(messages({ ...base, priority: 70_000 })).toContain("priority 70000 is not in 0..65535");
    expect(messages({ ...base, match: [...base.match, SEVEN.UNKNOWN] })).toContain(
      "match field 1:31 is not allowed in table 0",
    );
    expect(messages({ ...base, match: [...base.match, base.match.at(-1)!] })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^match field \w+ appears twice$/)]),
    );
    expect(messages({ ...base, match: [] })).toContain("an empty match is only for the table-miss rule");
    expect(messages({ ...base, instructions: [{ kind: "CLEAR_ACTIONS" }] as never })).toContain(
      "instruction CLEAR_ACTIONS is not allowed",
    );
    expect(messages({ ...base, instructions: [...base.instructions, ...base.instructions] })).toContain(
      "more than one APPLY_ACTIONS",
    );
    expect(messages({ ...base, instructions: apply([{ kind: "POP_VLAN" }]) })).toEqual(
      expect.arrayContaining(["action POP_VLAN is not allowed"]),
    );
    expect(messages({ ...base, instructions: apply([]) })).toContain(
      "APPLY_ACTIONS without OUTPUT (use the table-miss rule to drop)",
    );
  });
});
