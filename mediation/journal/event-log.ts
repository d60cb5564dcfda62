import type { DatabaseSync } from "node:sqlite";

export interface JournalEvent {
  readonly seq: number;
  readonly at: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

type Row = Record<string, unknown>;

/**
 * An append-only, per-owner numbered event list in one table (`events` of a migration,
 * `cluster_events` of a cluster migration): what SSE streams replay from a sequence number.
 */
export class EventLog {
  readonly #db: DatabaseSync;
  readonly #table: string;
  readonly #owner: string;

  constructor(
    db: DatabaseSync,
    table: "events" | "cluster_events",
    owner: "migration_id" | "cluster_migration_id",
  ) {
    this.#db = db;
    this.#table = table;
    this.#owner = owner;
  }

  /** Appends the next event of `id`; run it inside the caller's transaction. */
  append(id: string, at: number, type: string, data: Record<string, unknown>): JournalEvent {
    const row = this.#db
      .prepare(`SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM ${this.#table} WHERE ${this.#owner} = ?`)
      .get(id) as Row;
    const event = { seq: Number(row.next), at, type, data };
    this.#db
      .prepare(`INSERT INTO ${this.#table} (${this.#owner}, seq, at, type, data) VALUES (?, ?, ?, ?, ?)`)
      .run(id, event.seq, event.at, type, JSON.stringify(data));
    return event;
  }

  after(id: string, seq: number): JournalEvent[] {
    return (
      this.#db
        .prepare(`SELECT * FROM ${this.#table} WHERE ${this.#owner} = ? AND seq > ? ORDER BY seq`)
        .all(id, seq) as Row[]
    ).map((r) => ({
      seq: Number(r.seq),
      at: Number(r.at),
      type: String(r.type),
      data: JSON.parse(String(r.data)) as Record<string, unknown>,
    }));
  }
}
