import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MediationError } from "../../mediation/errors.ts";
import { Journal } from "../../mediation/journal/journal.ts";
import type { MigrationRequest } from "../../mediation/model/migration.ts";
import { ManifestBuilder } from "../../mediation/transfer/manifest.ts";

const dir = mkdtempSync(join(tmpdir(), "icsdn-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = (member: string): MigrationRequest => ({
  member,
  server: member,
  sourceCloud: "lab-a",
  targetCloud: "lab-b",
  targetNetwork: "private",
  flavor: undefined,
  dryRun: false,
  userData: undefined,
});

describe("the migration journal (SQLite)", () => {
  it("keeps migrations, resources, timings, events and the manifest across a reopen", () => {
    const path = join(dir, "j.db");
    const j = Journal.open(path);
    const { record, created } = j.create(request("vm1"), "key-1");
    expect(created).toBe(true);
    expect(j.create(request("vm1"), "key-1")).toEqual({ record, created: false });
    const busy = (() => {
      try {
        j.create(request("vm1"), "key-2");
      } catch (err) {
        return err as MediationError;
      }
    })();
    expect(busy?.code).toBe("MIGRATION_BUSY");
    expect(busy?.field).toBe("member");
    const seq = j.intend(record.id, { side: "target", kind: "image", name: "icsdn-x-image", owned: true });
    j.phaseStarted(record.id, "image_download", 1000);
    j.phaseEnded(record.id, "image_download", 2500);
    j.event(record.id, "phase", { step: "image_transfer" });
    const b = new ManifestBuilder(4, "sha512");
    b.update(Buffer.from("0123456789"));
    j.saveManifest(record.id, b.finish());
    j.close();

    const again = Journal.open(path);
    expect(again.resources(record.id)).toEqual([
      { seq, side: "target", kind: "image", name: "icsdn-x-image", id: null, state: "creating", owned: true },
    ]);
    again.created(record.id, seq, "img-1");
    expect(again.resources(record.id)[0]?.state).toBe("present");
    again.deleted(record.id, seq);
    expect(again.resources(record.id)[0]?.state).toBe("deleted");
    expect(again.timings(record.id)).toEqual([{ phase: "image_download", startedAt: 1000, endedAt: 2500 }]);
    expect(again.eventsAfter(record.id, 0).map((e) => e.type)).toEqual(["phase"]);
    expect(again.manifestChunks(record.id).map((c) => c.length)).toEqual([4, 4, 2]);
    expect(again.unfinished().map((m) => m.id)).toEqual([record.id]);
    again.setStatus(record.id, "failed", { code: "HASH_MISMATCH", message: "x" });
    expect(again.unfinished()).toEqual([]);
    expect(again.create(request("vm1"), "key-3").created).toBe(true);
    again.close();
  });
});
