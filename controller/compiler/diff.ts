import { type Rule, ruleContent, ruleIdentity, sortRules } from "./rule.ts";

/** What to send a switch so it holds `desired`: ADDs, then strict DELETEs. */
export interface RuleDiff {
  /** New rules and changed ones (same table, priority and match; other cookie or instructions). */
  readonly add: readonly Rule[];
  /** Rules whose identity is not desired at all. */
  readonly delete: readonly Rule[];
}

/**
 * diffRules(current, desired), keyed by identity (table, priority, match). A changed rule is an
 * ADD, not a MODIFY or a delete+add: OpenFlow 1.3 ADD with an identical match and priority
 * replaces the entry in one step (no gap where packets fall to the drop, unlike delete+add
 * without a bundle), and unlike MODIFY it also replaces the cookie, so a rule with a stale or
 * foreign cookie becomes ours. Deletes never share an identity with an add, so sending adds
 * first and deletes second is safe and is make-before-break within one switch.
 *
 * Every rule in `current` not desired is deleted; a caller that must spare others' rules filters
 * `current` first (by cookie, see cookie.ts).
 */
export function diffRules(current: readonly Rule[], desired: readonly Rule[]): RuleDiff {
  const have = new Map(current.map((r) => [ruleIdentity(r), ruleContent(r)]));
  const want = new Set(desired.map(ruleIdentity));
  const add = desired.filter((r) => have.get(ruleIdentity(r)) !== ruleContent(r));
  const del = current.filter((r) => !want.has(ruleIdentity(r)));
  return { add: sortRules(add), delete: sortRules(del) };
}

export function isEmptyDiff(diff: RuleDiff): boolean {
  return diff.add.length === 0 && diff.delete.length === 0;
}
