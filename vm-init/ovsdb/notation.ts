/**
 * OVSDB's JSON notation (RFC 7047 section 5.1), both ways. An atom is a string, number or
 * boolean, or ["uuid", "..."] / ["named-uuid", "..."]; a set is ["set", [atoms]] except that a
 * set of exactly one element may be sent bare; a map is ["map", [[key, value], ...]].
 */

export type OvsdbAtom = string | number | boolean;
export type Uuid = readonly ["uuid", string];
/** A row inserted earlier in the same transaction, by its "uuid-name". */
export type NamedUuid = readonly ["named-uuid", string];
export type AtomValue = OvsdbAtom | Uuid | NamedUuid;
export type OvsdbSet = readonly ["set", readonly AtomValue[]];
export type OvsdbMap = readonly ["map", readonly (readonly [AtomValue, AtomValue])[]];
/** A column value as sent in a transaction. */
export type OvsdbValue = AtomValue | OvsdbSet | OvsdbMap;

/** A row as the server sends it: column name to value (JSON notation, not yet decoded). */
export type OvsdbRow = Readonly<Record<string, unknown>>;

export function uuid(id: string): Uuid {
  return ["uuid", id];
}

export function namedUuid(name: string): NamedUuid {
  return ["named-uuid", name];
}

export function set(items: readonly AtomValue[]): OvsdbSet {
  return ["set", items];
}

export function map(m: Readonly<Record<string, string>>): OvsdbMap {
  return ["map", Object.entries(m)];
}

/** An optional column: the empty set when absent. */
export function optional(v: AtomValue | undefined): OvsdbValue {
  return v === undefined ? set([]) : v;
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
