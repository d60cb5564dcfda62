import type { ConfigIssue } from "./errors.ts";

/**
 * A tiny schema helper: readers that check one value, record an issue naming its path when it is
 * wrong, and return undefined then, so one pass over a config reports every problem.
 */
export class Checker {
  readonly issues: ConfigIssue[] = [];

  fail(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  /** A plain object whose keys are all in `known` (an unknown key is usually a typo). */
  object(path: string, v: unknown, known: readonly string[]): Record<string, unknown> | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(path, "must be an object");
    const rec = v as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (!known.includes(k)) this.fail(at(path, k), `unknown field (known: ${known.join(", ")})`);
    }
    return rec;
  }

  string(path: string, v: unknown): string | undefined {
    return typeof v === "string" ? v : this.fail(path, `must be a string, got ${describe(v)}`);
  }

  integer(path: string, v: unknown, min: number, max: number): number | undefined {
    if (typeof v !== "number" || !Number.isInteger(v))
      return this.fail(path, `must be an integer, got ${describe(v)}`);
    if (v < min || v > max) return this.fail(path, `${v} is out of range ${min}..${max}`);
    return v;
  }

  oneOf<T extends string>(path: string, v: unknown, values: readonly T[]): T | undefined {
    if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as T;
    return this.fail(path, `must be one of ${values.map((x) => `"${x}"`).join(", ")}, got ${describe(v)}`);
  }

  array(path: string, v: unknown, min: number, max: number): unknown[] | undefined {
    if (!Array.isArray(v)) return this.fail(path, `must be an array, got ${describe(v)}`);
    if (v.length < min || v.length > max) {
      return this.fail(path, `must hold ${min === max ? min : `${min} to ${max}`} items, got ${v.length}`);
    }
    return v;
  }
}

/** `a.b` for a field, `a[1]` for an index. */
export function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}
