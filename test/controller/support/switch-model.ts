import type { Rule } from "../../../controller/compiler/rule.ts";

// An independent model of what an OpenFlow 1.3 switch does with our FLOW_MODs, written from the
// spec rather than from controller/compiler, so tests do not check the diff with its own logic.

function key(r: Rule): string {
  const fields = r.match
    .map((f) => JSON.stringify(f, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)))
    .sort();
  return `${r.tableId}/${r.priority}/${fields.join(";")}`;
}

/** OFPFC_ADD: replaces an entry with the same table, priority and match, else inserts. */
export function switchAdd(table: Rule[], rule: Rule): void {
  const i = table.findIndex((r) => key(r) === key(rule));
  if (i >= 0) table[i] = rule;
  else table.push(rule);
}

/** OFPFC_DELETE_STRICT with an all-ones cookie mask: same table, priority, match and cookie. */
export function switchDeleteStrict(table: Rule[], rule: Rule): void {
  const i = table.findIndex((r) => key(r) === key(rule) && r.cookie === rule.cookie);
  if (i >= 0) table.splice(i, 1);
}

export function applyBatch(table: Rule[], batch: { add: readonly Rule[]; delete: readonly Rule[] }): void {
  for (const r of batch.add) switchAdd(table, r);
  for (const r of batch.delete) switchDeleteStrict(table, r);
}

/** Rule lists as comparable text, order-free. */
export function asSet(rules: readonly Rule[]): string[] {
  return rules
    .map((r) => JSON.stringify({ ...r, match: [...r.match].map((f) => JSON.stringify(f, big)).sort() }, big))
    .sort();
}

function big(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? `${v}n` : v;
}
