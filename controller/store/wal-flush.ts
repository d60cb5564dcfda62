import { open } from "node:fs/promises";

/**
 * Makes committed transactions durable off the event loop. The store commits with
 * `synchronous = NORMAL` (WAL): a commit is in the WAL file at once, so a controller that crashes
 * keeps it, but SQLite would only fsync at the next checkpoint. Instead, every commit asks for an
 * fsync of the WAL file here, run in libuv's thread pool: one at a time, and the requests made
 * while one runs are served by one more. A commit is durable against power loss one fsync later
 * (milliseconds), and no request's answer, barrier reply or probe waits for the disk meanwhile
 * (a synchronous fsync on a shared disk held the event loop for 0.5 to 30 ms).
 */
export class WalFlusher {
  readonly #walPath: string;
  readonly #sync: (path: string) => Promise<void>;
  #running: Promise<void> | undefined;
  #again = false;

  /** `sync` makes a file durable (default: fsync it; tests count the calls). */
  constructor(databasePath: string, sync: (path: string) => Promise<void> = fsyncFile) {
    this.#walPath = `${databasePath}-wal`;
    this.#sync = sync;
  }

  /** A commit happened: it will be fsynced. */
  request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once every commit requested so far is on disk. */
  async flushed(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#sync(this.#walPath);
    } while (this.#again);
  }
}

async function fsyncFile(path: string): Promise<void> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    file = await open(path, "r");
    await file.sync();
  } catch {
    // No WAL file (checkpointed away at close): its frames are in the database file, which the
    // checkpoint synced. Another failure leaves durability to SQLite's next checkpoint.
  } finally {
    await file?.close().catch(() => {});
  }
}
