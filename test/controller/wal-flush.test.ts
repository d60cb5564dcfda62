import { describe, expect, it } from "vitest";
import { WalFlusher } from "../../controller/store/wal-flush.ts";

describe("WalFlusher", () => {
  it("syncs the WAL file once per burst of commits, and flushed() waits for the last", async () => {
    const synced: string[] = [];
    const gates: (() => void)[] = [];
    const flusher = new WalFlusher("/db/controller.db", (path) => {
      synced.push(path);
      return new Promise<void>((resolve) => gates.push(resolve));
    });
    flusher.request();
    expect(synced).toEqual(["/db/controller.db-wal"]);
    // Three commits while the first sync runs: served by one more sync, after it.
    flusher.request();
    flusher.request();
    flusher.request();
    expect(synced).toHaveLength(1);
    let done = false;
    const flushed = flusher.flushed().then(() => {
      done = true;
    });
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(synced).toHaveLength(2);
    expect(done).toBe(false);
    gates.shift()!();
    await flushed;
    expect(done).toBe(true);
    expect(synced).toHaveLength(2);
    // Idle again: the next commit starts a sync at once.
    flusher.request();
    expect(synced).toHaveLength(3);
    gates.shift()!();
    await flusher.flushed();
  });

  it("a missing WAL file (checkpointed away) is no error", async () => {
    const flusher = new WalFlusher("/nonexistent/icsdn/controller.db");
    flusher.request();
    await expect(flusher.flushed()).resolves.toBeUndefined();
  });
});
