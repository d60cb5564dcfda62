import { VmInitError } from "../errors.ts";
import type { OvsdbRow } from "./notation.ts";

/**
 * A local copy of the monitored tables, kept current from the "monitor" reply and "update"
 * notifications (RFC 7047 4.1.5, 4.1.6): table -> row uuid -> columns. Pure.
 */
export type Tables = Map<string, Map<string, OvsdbRow>>;

/**
 * Applies a <table-updates> object: a row with only "new" is inserted (or is initial content), one
 * with only "old" is deleted, one with both is modified (the columns in "new" replace those held;
 * RFC 7047 servers send every monitored column, but a column left out keeps its value).
 */
export function applyTableUpdates(tables: Tables, updates: unknown): void {
  if (typeof updates !== "object" || updates === null || Array.isArray(updates)) {
    throw bad(`table updates that are not an object: ${JSON.stringify(updates)}`);
  }
  for (const [table, rows] of Object.entries(updates as Record<string, unknown>)) {
    if (typeof rows !== "object" || rows === null || Array.isArray(rows)) {
      throw bad(`updates for table ${table} that are not an object`);
    }
    let held = tables.get(table);
    if (!held) {
      held = new Map();
      tables.set(table, held);
    }
    for (const [id, change] of Object.entries(rows as Record<string, unknown>)) {
      if (typeof change !== "object" || change === null)
        throw bad(`a row update for ${table} ${id} that is not an object`);
      const { new: next } = change as { old?: unknown; new?: unknown };
      if (next === undefined || next === null) {
        held.delete(id);
      } else if (typeof next === "object" && !Array.isArray(next)) {
        held.set(id, { ...(held.get(id) ?? {}), ...(next as OvsdbRow) });
      } else {
        throw bad(`a "new" row for ${table} ${id} that is not an object`);
      }
    }
  }
}

/** The rows of `table`, each with its uuid. */
export function rowsOf(tables: Tables, table: string): { uuid: string; row: OvsdbRow }[] {
  return [...(tables.get(table) ?? new Map<string, OvsdbRow>())].map(([uuid, row]) => ({ uuid, row }));
}

function bad(what: string): VmInitError {
  return new VmInitError("OVSDB_PROTOCOL_ERROR", `OVSDB sent ${what}`);
}
