import { type Rule, ruleContent, ruleIdentity } from "../compiler/rule.ts";

/**
 * Every distinct rule of ours that some switch holds, numbered, shared by all sessions: a switch's
 * held set (held-rules.ts) is then a bitset over these numbers instead of a map of its own. A
 * 5,000-member cluster's switches each hold about 20,000 rules, nearly all the same objects (the
 * compiler shares one frozen rule per peer): a map per switch cost 29 bytes per rule (2.9 GB for
 * all 5,000 switches, and millions of entries for the garbage collector to trace), a bit costs one
 * eighth of a byte and the collector never looks inside it.
 *
 * Numbers are kept per rule space (the cookie's cluster bits, 55..32), so one cluster's bitsets
 * span only its own rules however many other clusters there are. A rule is counted by the switches
 * that hold it; the last release frees its number (reused) and drops its space when empty, so a
 * deleted cluster's rules are not kept once no switch holds them.
 */
export class HeldRuleIndex {
  readonly #spaces = new Map<number, RuleSpace>();

  /** The space of `rule` (held rules are ours: marked cookies), created on first use. */
  spaceOf(rule: Rule): RuleSpace {
    const key = spaceKey(rule);
    let space = this.#spaces.get(key);
    if (!space) {
      space = new RuleSpace(() => this.#spaces.delete(key));
      this.#spaces.set(key, space);
    }
    return space;
  }

  /** The space of `rule` if some switch holds a rule of it. */
  findSpace(rule: Rule): RuleSpace | undefined {
    return this.#spaces.get(spaceKey(rule));
  }

  /** Distinct rules held by at least one switch (for tests and memory accounting). */
  get size(): number {
    let n = 0;
    for (const s of this.#spaces.values()) n += s.size;
    return n;
  }

  /** Rule spaces with a held rule. */
  get spaces(): number {
    return this.#spaces.size;
  }
}

const spaceKey = (rule: Rule) => Number((rule.cookie >> 32n) & 0xff_ffffn);

/** One space's rules, each with a number and a count of the switches holding it. */
export class RuleSpace {
  /** content -> number. */
  readonly #numbers = new Map<string, number>();
  /** identity -> the numbers of the held rules with that identity (usually one; two mid-rebind). */
  readonly #byIdentity = new Map<string, number[]>();
  #rules: (Rule | undefined)[] = [];
  #holders = new Uint32Array(64);
  readonly #free: number[] = [];
  readonly #emptied: () => void;

  constructor(emptied: () => void) {
    this.#emptied = emptied;
  }

  get size(): number {
    return this.#numbers.size;
  }

  /** The number of `rule`'s content if some switch holds it. */
  find(rule: Rule): number | undefined {
    return this.#numbers.get(ruleContent(rule));
  }

  /** One more switch holds `rule`: its number. */
  hold(rule: Rule): number {
    const content = ruleContent(rule);
    let n = this.#numbers.get(content);
    if (n === undefined) {
      n = this.#free.pop() ?? this.#rules.length;
      this.#numbers.set(content, n);
      this.#rules[n] = rule;
      if (n >= this.#holders.length) {
        const grown = new Uint32Array(this.#holders.length * 2);
        grown.set(this.#holders);
        this.#holders = grown;
      }
      const id = ruleIdentity(rule);
      const same = this.#byIdentity.get(id);
      if (same) same.push(n);
      else this.#byIdentity.set(id, [n]);
    }
    this.#holders[n]!++;
    return n;
  }

  /** One switch fewer holds rule number `n`; the last one frees it. */
  release(n: number): void {
    if (--this.#holders[n]! > 0) return;
    const rule = this.#rules[n]!;
    this.#numbers.delete(ruleContent(rule));
    const id = ruleIdentity(rule);
    const same = this.#byIdentity.get(id)!;
    same.splice(same.indexOf(n), 1);
    if (same.length === 0) this.#byIdentity.delete(id);
    this.#rules[n] = undefined;
    this.#free.push(n);
    if (this.#numbers.size === 0) {
      this.#rules = [];
      this.#free.length = 0;
      this.#holders = new Uint32Array(64);
      this.#emptied();
    }
  }

  /** The held rule numbered `n`. */
  rule(n: number): Rule {
    return this.#rules[n]!;
  }

  /** Numbers of held rules with `rule`'s identity (table, priority, match). */
  sameIdentity(rule: Rule): readonly number[] {
    return this.#byIdentity.get(ruleIdentity(rule)) ?? [];
  }
}
