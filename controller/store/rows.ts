import type { SQLOutputValue } from "node:sqlite";
import { ControllerError } from "../errors.ts";

/** One result row as node:sqlite returns it. */
export type Row = Record<string, SQLOutputValue>;

function corrupt(column: string, value: unknown): ControllerError {
  return new ControllerError("STORE_FAILED", `column ${column} holds ${typeof value} ${String(value)}`);
}

export function text(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== "string") throw corrupt(column, v);
  return v;
}

export function textOrNull(row: Row, column: string): string | null {
  const v = row[column];
  if (v === null) return null;
  if (typeof v !== "string") throw corrupt(column, v);
  return v;
}

export function num(row: Row, column: string): number {
  const v = row[column];
  if (typeof v === "bigint") return Number(v);
  if (typeof v !== "number") throw corrupt(column, v);
  return v;
}

export function numOrNull(row: Row, column: string): number | null {
  return row[column] === null ? null : num(row, column);
}

/** A JSON column the store itself wrote (a report kept whole); null stays null. */
export function json<T>(row: Row, column: string): T | null {
  const v = textOrNull(row, column);
  if (v === null) return null;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw corrupt(column, v);
  }
}
