/**
 * Decoding OVSDB's JSON notation (RFC 7047 section 5.1) as `ovs-vsctl --format=json` prints it:
 * an atom is a string, number or boolean, or ["uuid", "..."]; a set is ["set", [atoms]] unless it
 * has exactly one element, which is printed bare; a map is ["map", [[key, value], ...]].
 */

export type OvsdbAtom = string | number | boolean;

/** One `list` table from `ovs-vsctl --format=json`: rows of cells in heading order. */
export interface OvsdbTable {
  headings: string[];
  data: unknown[][];
}

/** A row as a record keyed by column name. */
export type OvsdbRow = Readonly<Record<string, unknown>>;

export function rowsOf(table: OvsdbTable): OvsdbRow[] {
  return table.data.map((cells) => Object.fromEntries(table.headings.map((h, i) => [h, cells[i]])));
}

function atom(v: unknown): OvsdbAtom | undefined {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (
    Array.isArray(v) &&
    v.length === 2 &&
    (v[0] === "uuid" || v[0] === "named-uuid") &&
    typeof v[1] === "string"
  ) {
    return v[1];
  }
  return undefined;
}

/** Every element of a set-valued (or optional) column; a bare atom is a one-element set. */
export function setOf(v: unknown): OvsdbAtom[] {
  if (Array.isArray(v) && v[0] === "set" && Array.isArray(v[1])) {
    return (v[1] as unknown[]).map(atom).filter((a): a is OvsdbAtom => a !== undefined);
  }
  const a = atom(v);
  return a === undefined ? [] : [a];
}

export function mapOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v) && v[0] === "map" && Array.isArray(v[1])) {
    for (const pair of v[1] as unknown[]) {
      if (Array.isArray(pair)) {
        const k = atom(pair[0]);
        const val = atom(pair[1]);
        if (k !== undefined && val !== undefined) out[String(k)] = String(val);
      }
    }
  }
  return out;
}

/** An optional string column (a set of 0 or 1). */
export function optString(v: unknown): string | undefined {
  const s = setOf(v)[0];
  return s === undefined ? undefined : String(s);
}

export function optNumber(v: unknown): number | undefined {
  const s = setOf(v)[0];
  return typeof s === "number" ? s : undefined;
}

export function str(v: unknown): string {
  const a = atom(v);
  return a === undefined ? "" : String(a);
}

export function uuidOf(v: unknown): string {
  return str(v);
}
