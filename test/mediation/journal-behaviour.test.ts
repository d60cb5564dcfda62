import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MediationError } from "../../mediation/errors.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import type { MigrationRequest } from "../../mediation/model/migration.ts";
import { ManifestBuilder } from "../../mediation/transfer/manifest.ts";

// Behaviour of each journal method on a real SQLite file (journal.test.ts is the reopen round trip).
// Equivalent mutants, left alive on purpose:
// - `PRAGMA foreign_keys = ON` removed or emptied: node:sqlite opens with foreign keys enforced,
//   so nothing changes;
//   the foreign-key test below still pins that a resource of an unknown migration is refused.
// - `if (path !== ":memory:")` always true, or against "": an in-memory database ignores WAL.
// - isHealthy's `isOpen && ...` as `||` or `true`: a query on a closed database throws, and the
//   catch answers false all the same (that catch is reached only so, hence "no coverage" there).

const dir = mkdtempSync(join(tmpdir(), "icsdn-journal-b-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = (member: string, server = member): MigrationRequest => ({
  member,
  server,
  sourceCloud: "lab-a",
  targetCloud: "lab-b",
  targetNetwork: "private",
  flavor: "m1.small",
  dryRun: false,
  userData: undefined,
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

let n = 0;
let clock = 0;
let path = "";
let j: Journal;
beforeEach(() => {
  clock = 1_000;
  path = join(dir, `j${n++}.db`);
  j = Journal.open(path, () => clock);
});
afterEach(() => j.close());

describe("opening the journal", () => {
  it("puts a file journal in WAL mode and applies the schema once (user_version)", () => {
    const raw = new DatabaseSync(path);
    expect(raw.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(raw.prepare("PRAGMA user_version").get()).toEqual({ user_version: 3 });
    raw.close();
    j.close();
    j = Journal.open(path, () => clock);
    expect(j.isHealthy()).toBe(true);
  });

  it("refuses a journal written by a newer service, and closes it again", () => {
    j.close();
    const raw = new DatabaseSync(path);
    raw.exec("PRAGMA user_version = 4");
    raw.close();
    expect(() => Journal.open(path)).toThrow(`journal ${path} has schema v4, newer than this service's`);
    // The failed open let go of the file: the last connection's close removes the WAL files.
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(existsSync(`${path}-shm`)).toBe(false);
  });

  it("waits for a writer holding the file's lock instead of failing at once (busy_timeout)", async () => {
    const worker = new Worker(
      `const { DatabaseSync } = require("node:sqlite");
       const { parentPort, workerData } = require("node:worker_threads");
       const db = new DatabaseSync(workerData);
       db.exec("BEGIN IMMEDIATE");
       parentPort.postMessage("locked");
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
       db.exec("COMMIT");
       db.close();`,
      { eval: true, workerData: path },
    );
    try {
      await new Promise((resolve) => worker.once("message", resolve));
      expect(j.create(request("vm1"), undefined).created).toBe(true);
    } finally {
      await worker.terminate();
    }
  });

  it("is healthy while open and not after close; closing twice is harmless", () => {
    expect(j.isHealthy()).toBe(true);
    j.close();
    expect(j.isHealthy()).toBe(false);
    expect(() => j.close()).not.toThrow();
  });
});

describe("durability (commits do not fsync; durable() syncs the WAL off the event loop)", () => {
  /** Counts the WAL syncs (FileHandle.datasync, which node:fs/promises does not export). */
  async function spySyncs() {
    const handle = await open(join(dir, "probe"), "w");
    const FileHandle = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
    await handle.close();
    return vi.spyOn(FileHandle, "datasync");
  }

  it("syncs the WAL once per durable() that follows writes; calls during a sync share the next", async () => {
    const syncs = await spySyncs();
    try {
      await j.durable();
      expect(syncs).toHaveBeenCalledTimes(0);
      j.create(request("vm1"), undefined);
      await j.durable();
      expect(syncs).toHaveBeenCalledTimes(1);
      await j.durable();
      expect(syncs).toHaveBeenCalledTimes(1);
      // Calls made while one sync runs share at most one more.
      const id = j.create(request("vm2"), undefined).record.id;
      const first = j.durable();
      j.setStep(id, "source_auth");
      await Promise.all([first, j.durable(), j.durable()]);
      expect(syncs).toHaveBeenCalledTimes(3);
    } finally {
      syncs.mockRestore();
    }
  });

  it("an in-memory journal has nothing to sync", async () => {
    const syncs = await spySyncs();
    const mem = Journal.open(":memory:");
    try {
      mem.create(request("vm1"), undefined);
      await mem.durable();
      expect(syncs).toHaveBeenCalledTimes(0);
    } finally {
      mem.close();
      syncs.mockRestore();
    }
  });
});

describe("creating migrations", () => {
  it("records a new migration running at precheck with empty progress", () => {
    const { record, created } = j.create(request("vm1", "srv-1"), undefined);
    expect(created).toBe(true);
    expect(record).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      member: "vm1",
      request: request("vm1", "srv-1"),
      status: "running",
      step: "precheck",
      committed: false,
      clusterId: null,
      error: null,
      bytesTotal: null,
      bytesDone: 0,
      uploadAttempt: 0,
      downloadResumes: 0,
      transferStartedAt: null,
      releaseAttempt: 0,
      clusterMigrationId: null,
      imageHash: null,
      createdAt: 1_000,
      updatedAt: 1_000,
    });
    expect(j.get(record.id)).toEqual(record);
    expect(j.get("no-such-id")).toBeUndefined();
  });

  it("returns the earlier migration for a repeated idempotency key, even when it has ended", () => {
    const first = j.create(request("vm1"), "k1").record;
    j.setStatus(first.id, "succeeded");
    const again = j.create(request("vm1"), "k1");
    expect(again.created).toBe(false);
    expect(again.record.id).toBe(first.id);
    expect(again.record.status).toBe("succeeded");
    expect(j.byIdempotencyKey("k1")?.id).toBe(first.id);
    expect(j.byIdempotencyKey("k2")).toBeUndefined();
    expect(j.list()).toHaveLength(1);
  });

  it("gives migrations without an idempotency key a new record each time", () => {
    const a = j.create(request("vm1"), undefined).record;
    j.setStatus(a.id, "failed", { code: "X", message: "y" });
    const b = j.create(request("vm1"), undefined);
    expect(b.created).toBe(true);
    expect(b.record.id).not.toBe(a.id);
    expect(j.list()).toHaveLength(2);
  });

  it.each(["running", "rolling_back"] as const)(
    "refuses a second migration of a member whose migration is %s, and writes nothing",
    (status) => {
      const first = j.create(request("vm1"), "k1").record;
      j.setStatus(first.id, status);
      const err = thrown(() => j.create(request("vm1"), "k2"));
      expect(err).toBeInstanceOf(MediationError);
      expect(err).toMatchObject({
        code: "MIGRATION_BUSY",
        field: "member",
        status: 409,
        message: `member 'vm1' is being migrated (migration ${first.id})`,
        details: { migration: first.id },
      });
      expect(j.list().map((m) => m.id)).toEqual([first.id]);
      expect(j.byIdempotencyKey("k2")).toBeUndefined();
      // The refused transaction was rolled back: the journal still takes writes.
      expect(j.create(request("vm2"), "k2").created).toBe(true);
    },
  );

  it.each(["succeeded", "failed", "cancelled"] as const)(
    "takes a new migration of a member whose last one %s",
    (status) => {
      const first = j.create(request("vm1"), undefined).record;
      j.setStatus(first.id, status);
      expect(j.create(request("vm1"), undefined).created).toBe(true);
    },
  );
});

describe("finding migrations", () => {
  it("finds the in-flight migration of a member (running or rolling back), not an ended one", () => {
    const a = j.create(request("vm1"), undefined).record;
    const b = j.create(request("vm2"), undefined).record;
    expect(j.inFlightFor("vm1")?.id).toBe(a.id);
    j.setStatus(b.id, "rolling_back");
    expect(j.inFlightFor("vm2")?.id).toBe(b.id);
    j.setStatus(a.id, "cancelled");
    expect(j.inFlightFor("vm1")).toBeUndefined();
    expect(j.inFlightFor("vm3")).toBeUndefined();
  });

  it("lists newest first, and the unfinished ones (running, rolling back) oldest first", () => {
    const ids: string[] = [];
    for (const [i, member] of ["vm1", "vm2", "vm3", "vm4"].entries()) {
      clock = 1_000 + i * 10;
      ids.push(j.create(request(member), undefined).record.id);
    }
    j.setStatus(ids[1]!, "rolling_back");
    j.setStatus(ids[2]!, "succeeded");
    expect(j.list().map((m) => m.id)).toEqual([...ids].reverse());
    expect(j.unfinished().map((m) => m.id)).toEqual([ids[0], ids[1], ids[3]]);
  });

  it("orders migrations created in the same millisecond by id", () => {
    const ids = ["vm1", "vm2", "vm3"].map((m) => j.create(request(m), undefined).record.id);
    expect(j.list().map((m) => m.id)).toEqual([...ids].sort());
  });
});

describe("updating a migration", () => {
  it("sets step, cluster, commit point and progress, stamping updatedAt and touching nothing else", () => {
    const { id } = j.create(request("vm1"), undefined).record;
    const other = j.create(request("vm2"), undefined).record;
    clock = 2_000;
    j.setStep(id, "image_transfer");
    expect(j.get(id)).toMatchObject({ step: "image_transfer", updatedAt: 2_000, createdAt: 1_000 });
    clock = 3_000;
    j.setCluster(id, "c-1");
    expect(j.get(id)).toMatchObject({ clusterId: "c-1", updatedAt: 3_000, step: "image_transfer" });
    j.setCommitted(id);
    expect(j.get(id)?.committed).toBe(true);
    j.setProgress(id, { bytesDone: 10, bytesTotal: 100, uploadAttempt: 2, downloadResumes: 1 });
    expect(j.get(id)).toMatchObject({
      bytesDone: 10,
      bytesTotal: 100,
      uploadAttempt: 2,
      downloadResumes: 1,
      transferStartedAt: null,
    });
    j.setProgress(id, {
      bytesDone: 20,
      bytesTotal: null,
      uploadAttempt: 3,
      downloadResumes: 2,
      transferStartedAt: 2_500,
    });
    expect(j.get(id)).toMatchObject({
      bytesDone: 20,
      bytesTotal: null,
      uploadAttempt: 3,
      downloadResumes: 2,
      transferStartedAt: 2_500,
    });
    // A later report without a start keeps the recorded start.
    j.setProgress(id, { bytesDone: 30, bytesTotal: null, uploadAttempt: 3, downloadResumes: 2 });
    expect(j.get(id)?.transferStartedAt).toBe(2_500);
    expect(j.get(other.id)).toEqual(other);
  });

  it("sets the status with or without an error, keeping an earlier error", () => {
    const { id } = j.create(request("vm1"), undefined).record;
    j.setStatus(id, "rolling_back", { code: "HASH_MISMATCH", message: "chunk 3 differs" });
    expect(j.get(id)).toMatchObject({
      status: "rolling_back",
      error: { code: "HASH_MISMATCH", message: "chunk 3 differs" },
    });
    j.setStatus(id, "failed");
    expect(j.get(id)).toMatchObject({
      status: "failed",
      error: { code: "HASH_MISMATCH", message: "chunk 3 differs" },
    });
  });
});

describe("resources", () => {
  it("numbers each migration's resources from 1, creating without an id and present with one", () => {
    const a = j.create(request("vm1"), undefined).record.id;
    const b = j.create(request("vm2"), undefined).record.id;
    expect(j.intend(a, { side: "target", kind: "image", name: "img", owned: true })).toBe(1);
    expect(
      j.intend(a, { side: "source", kind: "server", name: "srv", owned: false, resourceId: "s-1" }),
    ).toBe(2);
    expect(j.intend(b, { side: "controller", kind: "rebind", name: "10.0.0.1", owned: true })).toBe(1);
    expect(j.resources(a)).toEqual([
      { seq: 1, side: "target", kind: "image", name: "img", id: null, state: "creating", owned: true },
      { seq: 2, side: "source", kind: "server", name: "srv", id: "s-1", state: "present", owned: false },
    ]);
    expect(j.resources(b)).toEqual([
      {
        seq: 1,
        side: "controller",
        kind: "rebind",
        name: "10.0.0.1",
        id: null,
        state: "creating",
        owned: true,
      },
    ]);
    expect(j.resources("no-such-id")).toEqual([]);
  });

  it("marks only the named resource of the named migration created or deleted", () => {
    const a = j.create(request("vm1"), undefined).record.id;
    const b = j.create(request("vm2"), undefined).record.id;
    for (const id of [a, b]) {
      j.intend(id, { side: "target", kind: "image", name: "img", owned: true });
      j.intend(id, { side: "target", kind: "server", name: "srv", owned: true });
    }
    j.created(a, 2, "srv-a");
    expect(j.resources(a).map((r) => [r.id, r.state])).toEqual([
      [null, "creating"],
      ["srv-a", "present"],
    ]);
    j.deleted(a, 1);
    expect(j.resources(a).map((r) => r.state)).toEqual(["deleted", "present"]);
    expect(j.resources(b).map((r) => [r.id, r.state])).toEqual([
      [null, "creating"],
      [null, "creating"],
    ]);
  });

  it("refuses a resource of an unknown migration and stays writable (the transaction rolls back)", () => {
    expect(() => j.intend("no-such-id", { side: "target", kind: "image", name: "img", owned: true })).toThrow(
      /FOREIGN KEY/,
    );
    const id = j.create(request("vm1"), undefined).record.id;
    expect(j.intend(id, { side: "target", kind: "image", name: "img", owned: true })).toBe(1);
  });
});

describe("timings", () => {
  it("records phases at the journal's clock or a given time, ordered by start", () => {
    const id = j.create(request("vm1"), undefined).record.id;
    const other = j.create(request("vm2"), undefined).record.id;
    clock = 5_000;
    j.phaseStarted(id, "image_upload");
    j.phaseStarted(id, "image_download", 4_000);
    j.phaseStarted(other, "image_download", 4_000);
    clock = 6_000;
    j.phaseEnded(id, "image_download");
    j.phaseEnded(id, "image_upload", 7_000);
    expect(j.timings(id)).toEqual([
      { phase: "image_download", startedAt: 4_000, endedAt: 6_000 },
      { phase: "image_upload", startedAt: 5_000, endedAt: 7_000 },
    ]);
    expect(j.timings(other)).toEqual([{ phase: "image_download", startedAt: 4_000, endedAt: null }]);
  });

  it("restarts a phase that starts again (a resumed step), clearing its end", () => {
    const id = j.create(request("vm1"), undefined).record.id;
    j.phaseStarted(id, "instantiation", 1_000);
    j.phaseEnded(id, "instantiation", 2_000);
    j.phaseStarted(id, "instantiation", 3_000);
    expect(j.timings(id)).toEqual([{ phase: "instantiation", startedAt: 3_000, endedAt: null }]);
  });
});

describe("events", () => {
  it("numbers each migration's events from 1 at the journal's clock and returns those after a seq", () => {
    const id = j.create(request("vm1"), undefined).record.id;
    const other = j.create(request("vm2"), undefined).record.id;
    clock = 2_000;
    expect(j.event(id, "step", { step: "source_auth" })).toEqual({
      seq: 1,
      at: 2_000,
      type: "step",
      data: { step: "source_auth" },
    });
    clock = 2_100;
    j.event(id, "progress", { bytes: 5, nested: { ok: true } });
    expect(j.event(other, "step", {}).seq).toBe(1);
    expect(j.eventsAfter(id, 0)).toEqual([
      { seq: 1, at: 2_000, type: "step", data: { step: "source_auth" } },
      { seq: 2, at: 2_100, type: "progress", data: { bytes: 5, nested: { ok: true } } },
    ]);
    expect(j.eventsAfter(id, 1).map((e) => e.seq)).toEqual([2]);
    expect(j.eventsAfter(id, 2)).toEqual([]);
  });
});

describe("the manifest", () => {
  it("keeps the chunks in order with the image hash, and a second save replaces the first", () => {
    const id = j.create(request("vm1"), undefined).record.id;
    const other = j.create(request("vm2"), undefined).record.id;
    const first = new ManifestBuilder(4, "sha512");
    first.update(Buffer.from("0123456789"));
    const m1 = first.finish();
    j.saveManifest(id, m1);
    j.saveManifest(other, m1);
    expect(j.manifestChunks(id)).toEqual(m1.chunks);
    expect(j.manifestChunks(id).map((c) => [c.index, c.offset, c.length])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
      [2, 8, 2],
    ]);
    expect(j.get(id)?.imageHash).toEqual(m1.imageHash);

    const second = new ManifestBuilder(8, "sha256");
    second.update(Buffer.from("abcdefghij"));
    const m2 = second.finish();
    j.saveManifest(id, m2);
    expect(j.manifestChunks(id)).toEqual(m2.chunks);
    expect(j.get(id)?.imageHash).toEqual({ algo: "sha256", value: m2.imageHash.value });
    expect(j.manifestChunks(other)).toEqual(m1.chunks);
  });

  it("saves nothing of a manifest for an unknown migration", () => {
    const b = new ManifestBuilder(4, "sha512");
    b.update(Buffer.from("0123"));
    expect(() => j.saveManifest("no-such-id", b.finish())).toThrow(/FOREIGN KEY/);
    expect(j.manifestChunks("no-such-id")).toEqual([]);
  });
});
