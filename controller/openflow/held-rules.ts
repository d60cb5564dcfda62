import { type FlowStats, type FlowStatsFilter, OFPG, OFPP, OFPTT } from "../../proto/index.ts";
import { COOKIE_MARK, OURS_COOKIE_MASK } from "../compiler/cookie.ts";
import type { Rule } from "../compiler/rule.ts";
import type { HeldRuleIndex, RuleSpace } from "./held-rule-index.ts";

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
 *
 * The set is a bitset per rule space over the numbers of the shared HeldRuleIndex
 * (held-rule-index.ts): about 2.5 KB for a switch of 20,000 rules. A set that is dropped must be
 * `release`d, so the index stops counting this switch.
 */
export class HeldRules {
  readonly #index: HeldRuleIndex;
  /**
   * Per rule space this switch holds rules of (one, two while a member moves between clusters):
   * bit n is rule number n, and how many are set. An array, not a map: iterating a map allocates,
   * and every rule of every batch looks here.
   */
  readonly #parts: Part[] = [];
  #size = 0;

  constructor(index: HeldRuleIndex, rules: readonly Rule[]) {
    this.#index = index;
    for (const r of rules) if (isOurs(r)) this.#hold(r);
  }

  get size(): number {
    return this.#size;
  }

  /**
   * `batch` without what the switch already has (adds) or already lacks (deletes); `batch` itself
   * when that is nothing (a peer's rebind batch: its new rules are not held, its old ones are).
   */
  toSend<B extends { readonly add: readonly Rule[]; readonly delete: readonly Rule[] }>(
    batch: B,
  ): B | { add: Rule[]; delete: Rule[] } {
    let sent = 0;
    for (const r of batch.add) if (this.#sendAdd(r)) sent++;
    for (const r of batch.delete) if (this.#sendDelete(r)) sent++;
    if (sent === batch.add.length + batch.delete.length) return batch;
    return {
      add: batch.add.filter((r) => this.#sendAdd(r)),
      delete: batch.delete.filter((r) => this.#sendDelete(r)),
    };
  }

  #sendAdd(r: Rule): boolean {
    return !isOurs(r) || !this.#holdsSame(r);
  }

  #sendDelete(r: Rule): boolean {
    return !isOurs(r) || this.#heldLike(r)?.cookie === r.cookie;
  }

  /** A batch the switch confirmed (commit and barrier replies): what it now holds. */
  confirmed(batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] }): void {
    for (const r of batch.add) {
      // An ADD replaces whatever had this identity, ours or not.
      if (isOurs(r) && this.#holdsSame(r)) continue;
      this.#dropIdentity(r, false);
      if (isOurs(r)) this.#hold(r);
    }
    for (const r of batch.delete) this.#dropIdentity(r, true);
  }

  /** Stops counting this switch in the index: the set is no longer used. */
  release(): void {
    for (const { space, bits } of this.#parts) {
      for (let w = 0; w < bits.length; w++) {
        let word = bits[w]!;
        while (word !== 0) {
          const bit = 31 - Math.clz32(word);
          word &= ~(1 << bit);
          space.release(w * 32 + bit);
        }
      }
    }
    this.#parts.length = 0;
    this.#size = 0;
  }

  #hold(r: Rule): void {
    const space = this.#index.spaceOf(r);
    let part = this.#partOf(space);
    if (!part) {
      part = { space, bits: new Uint32Array(0), count: 0 };
      this.#parts.push(part);
    }
    const n = space.find(r);
    if (n !== undefined && isSet(part.bits, n)) return;
    const held = space.hold(r);
    const word = held >>> 5;
    if (word >= part.bits.length) {
      const grown = new Uint32Array(Math.max(word + 1, part.bits.length * 2, 4));
      grown.set(part.bits);
      part.bits = grown;
    }
    part.bits[word]! |= 1 << (held & 31);
    part.count++;
    this.#size++;
  }

  #partOf(space: RuleSpace): Part | undefined {
    for (const part of this.#parts) if (part.space === space) return part;
    return undefined;
  }

  /** The held rule with `r`'s identity, if any (a switch holds one entry per identity, in any space). */
  #heldLike(r: Rule): Rule | undefined {
    for (const { space, bits } of this.#parts) {
      for (const n of space.sameIdentity(r)) if (isSet(bits, n)) return space.rule(n);
    }
    return undefined;
  }

  #holdsSame(r: Rule): boolean {
    const space = this.#index.findSpace(r);
    const part = space && this.#partOf(space);
    if (!space || !part) return false;
    const n = space.find(r);
    return n !== undefined && isSet(part.bits, n);
  }

  /** Forgets the held rule with `r`'s identity (only if its cookie is `r`'s, when `sameCookie`). */
  #dropIdentity(r: Rule, sameCookie: boolean): void {
    for (let i = 0; i < this.#parts.length; i++) {
      const part = this.#parts[i]!;
      const { space, bits } = part;
      for (const n of space.sameIdentity(r)) {
        if (!isSet(bits, n)) continue;
        if (sameCookie && space.rule(n).cookie !== r.cookie) return;
        bits[n >>> 5]! &= ~(1 << (n & 31));
        part.count--;
        this.#size--;
        if (part.count === 0) this.#parts.splice(i, 1);
        space.release(n);
        return;
      }
    }
  }
}

interface Part {
  readonly space: RuleSpace;
  bits: Uint32Array;
  count: number;
}

const isSet = (bits: Uint32Array, n: number) =>
  (n >>> 5 < bits.length ? (bits[n >>> 5]! >>> (n & 31)) & 1 : 0) === 1;
