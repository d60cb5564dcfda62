import { type FileHandle, open } from "node:fs/promises";
import type { DatabaseSync, StatementSync } from "node:sqlite";

/**
 * A SQLite database's durability, off the event loop: the services' stores commit without an
 * fsync (WAL, `synchronous = NORMAL`), and `durable()` fdatasyncs the WAL on libuv's thread pool.
 * A commit's fsync on the event loop stopped everything else for 1 to 17 ms (more under load); a
 * process killed after a commit loses nothing either way (the WAL is in the page cache), only a
 * power loss could lose what `durable()` has not confirmed yet.
 */
export class WalSync {
  readonly #path: string;
  readonly #db: DatabaseSync;
  readonly #failure: (message: string, cause: unknown) => Error;
  #changesQuery: StatementSync | undefined;
  /** The WAL file, opened at the first sync. */
  #wal: Promise<FileHandle> | undefined;
  /** The connection's changed rows (`total_changes()`) known to be on disk. */
  #synced = 0;
  /** The sync in flight (covering the changes made before it started), and one queued behind it. */
  #running: { readonly upTo: number; readonly done: Promise<void> } | undefined;
  #queued: Promise<void> | undefined;

  /** `failure` makes the owner's error when a sync fails. */
  constructor(path: string, db: DatabaseSync, failure: (message: string, cause: unknown) => Error) {
    this.#path = path;
    this.#db = db;
    this.#failure = failure;
  }

  #changes(): number {
    this.#changesQuery ??= this.#db.prepare("SELECT total_changes() AS n");
    return Number((this.#changesQuery.get() as { n: number }).n);
  }

  /**
   * Resolves once every write committed before the call is on disk. At once when nothing was
   * written since the last sync; calls made while one runs share the next.
   */
  durable(): Promise<void> {
    if (this.#path === ":memory:" || !this.#db.isOpen) return Promise.resolve();
    const target = this.#changes();
    if (this.#synced >= target) return Promise.resolve();
    const running = this.#running;
    if (!running) {
      const upTo = target;
      const done = this.#sync().then(
        () => {
          this.#synced = Math.max(this.#synced, upTo);
          this.#running = undefined;
        },
        (err: unknown) => {
          this.#running = undefined;
          throw err;
        },
      );
      this.#running = { upTo, done };
      return done;
    }
    if (running.upTo >= target) return running.done;
    // The one running started before this call's write: one more after it serves every call made meanwhile.
    this.#queued ??= running.done
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.durable();
      });
    return this.#queued;
  }

  async #sync(): Promise<void> {
    this.#wal ??= open(`${this.#path}-wal`, "r+");
    try {
      await (await this.#wal).datasync();
    } catch (err) {
      this.#wal = undefined;
      throw this.#failure(
        `cannot sync ${this.#path}: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
    }
  }

  /** After the database closed (closing checkpoints the WAL and syncs the database file). */
  close(): void {
    void this.#wal?.then((h) => h.close()).catch(() => undefined);
    this.#wal = undefined;
  }
}
