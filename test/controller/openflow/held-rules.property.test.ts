import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freezeRule, type Rule, ruleContent, ruleIdentity } from "../../../controller/compiler/rule.ts";
import { HeldRuleIndex } from "../../../controller/openflow/held-rule-index.ts";
import { HeldRules } from "../../../controller/openflow/held-rules.ts";

// HeldRules keeps a bitset over a numbering shared by every session (held-rule-index.ts). It must
// answer exactly as one map per switch (identity -> the held rule) did, and the shared numbering
// must forget a rule once no switch holds it.

const MARK = 0x1cn << 56n;

/** The map every session used to keep: the reference the bitsets are compared with. */
class MapModel {
  readonly rules = new Map<string, Rule>();
  constructor(rules: readonly Rule[]) {
    for (const r of rules) if (isOurs(r)) this.rules.set(ruleIdentity(r), r);
  }
  toSend(batch: { add: readonly Rule[]; delete: readonly Rule[] }) {
    return {
      add: batch.add.filter((r) => {
        const held = this.rules.get(ruleIdentity(r));
        return !isOurs(r) || held === undefined || ruleContent(held) !== ruleContent(r);
      }),
      delete: batch.delete.filter((r) => !isOurs(r) || this.rules.get(ruleIdentity(r))?.cookie === r.cookie),
    };
  }
  confirmed(batch: { add: readonly Rule[]; delete: readonly Rule[] }) {
    for (const r of batch.add) {
      if (isOurs(r)) this.rules.set(ruleIdentity(r), r);
      else this.rules.delete(ruleIdentity(r));
    }
    for (const r of batch.delete) {
      if (this.rules.get(ruleIdentity(r))?.cookie === r.cookie) this.rules.delete(ruleIdentity(r));
    }
  }
}
const isOurs = (r: Rule) => (r.cookie & (0xffn << 56n)) === MARK;

/**
 * A small pool of rules that collide on purpose: 3 priorities (identities) x 2 spaces (VNI bits)
 * x 2 kinds x 2 output ports, plus foreign ones (no mark); some frozen, some fresh copies.
 */
const ruleArb: fc.Arbitrary<Rule> = fc
  .record({
    priority: fc.integer({ min: 1, max: 3 }),
    space: fc.integer({ min: 1, max: 2 }),
    kind: fc.integer({ min: 1, max: 2 }),
    port: fc.integer({ min: 1, max: 2 }),
    ours: fc.boolean(),
    frozen: fc.boolean(),
  })
  .map(({ priority, space, kind, port, ours, frozen }) => {
    const rule: Rule = {
      tableId: 0,
      priority,
      cookie: ours ? MARK | (BigInt(space) << 32n) | (BigInt(kind) << 24n) : BigInt(kind),
      match: [],
      instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port, maxLen: 0 }] }],
    };
    return frozen ? freezeRule(rule) : rule;
  });

const batchArb = fc.record({
  add: fc.array(ruleArb, { maxLength: 4 }),
  delete: fc.array(ruleArb, { maxLength: 4 }),
});

/** A dump has one entry per identity. */
const dumpArb = fc
  .array(ruleArb, { maxLength: 6 })
  .map((rs) => [...new Map(rs.map((r) => [ruleIdentity(r), r])).values()]);

const opArb = fc.oneof(
  fc.record({ op: fc.constant("confirm" as const), sw: fc.nat({ max: 2 }), batch: batchArb }),
  fc.record({ op: fc.constant("reset" as const), sw: fc.nat({ max: 2 }), dump: dumpArb }),
);

const contents = (rs: readonly Rule[]) => rs.map(ruleContent);

describe("HeldRules over the shared index", () => {
  it("answers as a map per switch would, and the index forgets what no switch holds", () => {
    fc.assert(
      fc.property(
        fc.array(dumpArb, { minLength: 3, maxLength: 3 }),
        fc.array(opArb, { maxLength: 30 }),
        batchArb,
        (dumps, ops, probe) => {
          const index = new HeldRuleIndex();
          const held = dumps.map((d) => new HeldRules(index, d));
          const model = dumps.map((d) => new MapModel(d));
          for (const o of ops) {
            if (o.op === "confirm") {
              held[o.sw]!.confirmed(o.batch);
              model[o.sw]!.confirmed(o.batch);
            } else {
              held[o.sw]!.release();
              held[o.sw] = new HeldRules(index, o.dump);
              model[o.sw] = new MapModel(o.dump);
            }
            for (const [i, h] of held.entries()) {
              expect(h.size).toBe(model[i]!.rules.size);
              const got = h.toSend(probe);
              const want = model[i]!.toSend(probe);
              expect(contents(got.add)).toEqual(contents(want.add));
              expect(contents(got.delete)).toEqual(contents(want.delete));
            }
          }
          // Distinct rules held by any switch, by content.
          const distinct = new Set(model.flatMap((m) => [...m.rules.values()].map(ruleContent)));
          expect(index.size).toBe(distinct.size);
          for (const h of held) h.release();
          expect(index.size).toBe(0);
          expect(index.spaces).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("costs about a bit per rule per switch: 200 switches of one 20,000-rule cluster share one numbering", () => {
    const rules = Array.from({ length: 20_000 }, (_, i) =>
      freezeRule<Rule>({
        tableId: 0,
        priority: 100,
        cookie: MARK | (42n << 32n) | (1n << 24n),
        match: [{ field: "IPV4_DST", value: `10.${i >> 8}.${i & 255}.1` }],
        instructions: [],
      }),
    );
    const index = new HeldRuleIndex();
    const held = Array.from(
      { length: 200 },
      (_, k) =>
        new HeldRules(
          index,
          rules.filter((_, i) => i !== k),
        ),
    );
    expect(index.size).toBe(20_000);
    expect(held.every((h) => h.size === 19_999)).toBe(true);
    expect(held[0]!.toSend({ add: rules.slice(0, 3), delete: rules.slice(0, 3) })).toEqual({
      add: [rules[0]],
      delete: [rules[1], rules[2]],
    });
    for (const h of held) h.release();
    expect(index.size).toBe(0);
  });
});
