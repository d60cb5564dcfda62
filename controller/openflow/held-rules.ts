import { type FlowStats, type FlowStatsFilter, OFPG, OFPP, OFPTT } from "../../proto/index.ts";
import { COOKIE_MARK, OURS_COOKIE_MASK } from "../compiler/cookie.ts";
import { type Rule, ruleContent, ruleIdentity } from "../compiler/rule.ts";

const MARKED = COOKIE_MARK << 56n;

/** Every flow entry carrying the icsdn mark, in every table: ours, whatever cluster they were for. */
export const OUR_FLOWS: FlowStatsFilter = {
  tableId: OFPTT.ALL,
  outPort: OFPP.ANY,
  outGroup: OFPG.ANY,
  cookie: MARKED,
  cookieMask: OURS_COOKIE_MASK,
  match: [],
};

/** A flow entry as a rule (what a switch holds, compared with what it should). */
export function ruleOf(s: FlowStats): Rule {
  return {
    tableId: s.tableId,
    priority: s.priority,
    cookie: s.cookie,
    match: s.match,
    instructions: s.instructions,
  };
}
const isOurs = (r: Rule) => (r.cookie & OURS_COOKIE_MASK) === MARKED;

/**
 * The rules of ours (cookie mark) one switch is known to hold, so a batch can leave out what would
 * change nothing: an ADD identical (identity, cookie, instructions) to a held rule, a DELETE_STRICT
 * of a rule not held (same identity and cookie: flow-mod.ts deletes with an all-ones cookie mask).
 *
 * Sound only because (1) icsdn is the only writer of cookie-marked rules on its switches, and
 * (2) whenever what the switch holds is in doubt, the session drops the set (reconcile in
 * progress, failed or timed-out batch, an ERROR for no request) and only a reconcile sets it
 * again, from a flow dump (SwitchSession.dumpOurRules, holdsExactly). A new session (reconnect) starts unknown and is reconciled.
 * Rules without our mark are never in the set and never left out of a batch.
 */
export class HeldRules {
  /**
   * identity -> the held rule with that identity. The rule itself, not a record per entry: the
   * compiler's rules are shared by every switch of a cluster and their content is memoized
   * (rule.ts), so a switch's set costs one map entry per rule (1,000 switches of 4,000 rules each
   * are 4 million entries).
   */
  readonly #rules = new Map<string, Rule>();

  constructor(rules: readonly Rule[]) {
    for (const r of rules) if (isOurs(r)) this.#hold(r);
  }

  get size(): number {
    return this.#rules.size;
  }

  /** `batch` without what the switch already has (adds) or already lacks (deletes). */
  toSend(batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] }): {
    add: Rule[];
    delete: Rule[];
  } {
    const add = batch.add.filter((r) => !isOurs(r) || !this.#holdsSame(r));
    const del = batch.delete.filter(
      (r) => !isOurs(r) || this.#rules.get(ruleIdentity(r))?.cookie === r.cookie,
    );
    return { add, delete: del };
  }

  /** A batch the switch confirmed (commit and barrier replies): what it now holds. */
  confirmed(batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] }): void {
    for (const r of batch.add) {
      // An ADD replaces whatever had this identity, ours or not.
      if (isOurs(r)) this.#hold(r);
      else this.#rules.delete(ruleIdentity(r));
    }
    for (const r of batch.delete) {
      const id = ruleIdentity(r);
      if (this.#rules.get(id)?.cookie === r.cookie) this.#rules.delete(id);
    }
  }

  #hold(r: Rule): void {
    this.#rules.set(ruleIdentity(r), r);
  }

  #holdsSame(r: Rule): boolean {
    const held = this.#rules.get(ruleIdentity(r));
    return held !== undefined && (held === r || ruleContent(held) === ruleContent(r));
  }
}
