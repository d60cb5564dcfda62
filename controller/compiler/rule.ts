import type { FlowMod, OxmField } from "../../proto/index.ts";

/**
 * One flow entry as a switch should hold it: the FlowMod fields that define a flow. FlowStats
 * (a switch's dump) has the same fields, so what a switch reports compares directly with this.
 */
export type Rule = Pick<FlowMod, "tableId" | "priority" | "cookie" | "match" | "instructions">;

function fieldKey(f: OxmField): string {
  if (f.field === "UNKNOWN") {
    return `${f.oxmClass}:${f.oxmField}${f.hasMask ? "/m" : ""}=${Buffer.from(f.value).toString("hex")}`;
  }
  return f.mask === undefined
    ? `${f.field}=${String(f.value)}`
    : `${f.field}=${String(f.value)}/${String(f.mask)}`;
}

/**
 * Rules frozen by `freezeRule`: they cannot change, so their keys are computed once. The compiler
 * shares one frozen object per (peer, rule) among every switch's list, which is what keeps a
 * 1,000-member cluster's ~3,000 rules per switch cheap to compile, diff and encode.
 */
const frozen = new WeakSet<Rule>();
const identities = new WeakMap<Rule, string>();
const contents = new WeakMap<Rule, string>();

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    // Bytes cannot be frozen; rules built by the compiler carry none.
    if (ArrayBuffer.isView(value)) return value;
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The rule, deeply frozen and marked so its identity and content are computed only once. */
export function freezeRule<R extends Rule>(rule: R): R {
  deepFreeze(rule);
  frozen.add(rule);
  return rule;
}

/** Whether `rule` came from freezeRule (a caller may then cache what it derives from it). */
export function isFrozenRule(rule: Rule): boolean {
  return frozen.has(rule);
}

function memo(cache: WeakMap<Rule, string>, rule: Rule, make: (r: Rule) => string): string {
  if (!frozen.has(rule)) return make(rule);
  let key = cache.get(rule);
  if (key === undefined) {
    key = make(rule);
    cache.set(rule, key);
  }
  return key;
}

const identityOf = (rule: Rule) =>
  `${rule.tableId}|${rule.priority}|${rule.match.map(fieldKey).sort().join(",")}`;
const contentOf = (rule: Rule) => `${ruleIdentity(rule)}|${rule.cookie}|${canonicalJson(rule.instructions)}`;

/**
 * What OpenFlow calls the same flow: table, priority and match. Field order does not count
 * (a switch may report fields in another order than we sent them).
 */
export function ruleIdentity(rule: Rule): string {
  return memo(identities, rule, identityOf);
}

/** Identity plus everything an ADD would overwrite: cookie and instructions. */
export function ruleContent(rule: Rule): string {
  return memo(contents, rule, contentOf);
}

/** A stable order for rule lists: by table, priority (highest first), cookie (so, kind), then match. */
export function compareRules(a: Rule, b: Rule): number {
  if (a.tableId !== b.tableId) return a.tableId - b.tableId;
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.cookie !== b.cookie) return a.cookie < b.cookie ? -1 : 1;
  const ka = ruleIdentity(a);
  const kb = ruleIdentity(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The same order as compareRules, with each rule's identity computed once, not once per comparison. */
export function sortRules(rules: readonly Rule[]): Rule[] {
  const keyed = rules.map((rule) => ({ rule, identity: ruleIdentity(rule) }));
  keyed.sort((x, y) => {
    const a = x.rule;
    const b = y.rule;
    if (a.tableId !== b.tableId) return a.tableId - b.tableId;
    if (a.priority !== b.priority) return b.priority - a.priority;
    if (a.cookie !== b.cookie) return a.cookie < b.cookie ? -1 : 1;
    return x.identity < y.identity ? -1 : x.identity > y.identity ? 1 : 0;
  });
  return keyed.map((k) => k.rule);
}

/** JSON with sorted keys, bigints as "123n" and bytes as hex, so equal values give equal text. */
function canonicalJson(value: unknown): string {
  if (typeof value === "bigint") return `"${value}n"`;
  if (value instanceof Uint8Array) return `"0x${Buffer.from(value).toString("hex")}"`;
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
