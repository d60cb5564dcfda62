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

  it("keeps cluster migrations: members linked to their migrations, cutover times, one in flight per cluster", () => {
    let now = 1000;
    const j = Journal.open(join(dir, "c.db"), () => now);
    const cluster = {
      cluster: "c1",
      mode: "rolling" as const,
      maxParallel: 2,
      maxInTransit: 1,
      bandwidthMbps: undefined,
      members: [
        { member: "vm1", request: request("vm1") },
        { member: "vm2", request: request("vm2") },
      ],
    };
    const c = j.clusters.create(cluster);
    expect(c).toMatchObject({ cluster: "c1", status: "running", phase: "preparing" });
    expect(c.request).toEqual({ ...cluster, bandwidthMbps: undefined });
    expect(() => j.clusters.create(cluster)).toThrow(/cluster 'c1' is being migrated/);
    const m1 = j.create(request("vm1"), undefined, c.id).record;
    expect(m1.clusterMigrationId).toBe(c.id);
    j.clusters.setMember(c.id, "vm1", { state: "preparing", migrationId: m1.id });
    now = 2000;
    j.clusters.setMember(c.id, "vm1", { state: "rebinding" });
    now = 3000;
    j.clusters.setMember(c.id, "vm1", { state: "done" });
    j.clusters.setMember(c.id, "vm2", { state: "failed" });
    expect(j.clusters.members(c.id)).toEqual([
      {
        member: "vm1",
        idx: 0,
        migrationId: m1.id,
        state: "done",
        cutoverStartedAt: 2000,
        cutoverEndedAt: 3000,
      },
      {
        member: "vm2",
        idx: 1,
        migrationId: null,
        state: "failed",
        cutoverStartedAt: null,
        cutoverEndedAt: null,
      },
    ]);
    j.clusters.setPhase(c.id, "committing");
    now = 3042;
    j.clusters.setPhase(c.id, "confirmed");
    expect(j.clusters.get(c.id)).toMatchObject({ commitStartedAt: 3000, commitEndedAt: 3042 });
    j.clusters.event(c.id, "member", { member: "vm1" });
    expect(j.clusters.eventsAfter(c.id, 0).map((e) => e.type)).toEqual(["member"]);
    j.clusters.setStatus(c.id, "failed", { code: "CLOUD_API", message: "x" });
    expect(j.clusters.unfinished()).toEqual([]);
    expect(j.clusters.create(cluster).id).not.toBe(c.id);
    j.close();
  });

  it("keeps a cluster's shared target resources across a reopen: written before created, after deleted", () => {
    const path = join(dir, "shared.db");
    const j = Journal.open(path);
    const c = j.clusters.create({
      cluster: "c9",
      mode: "atomic",
      maxParallel: 2,
      maxInTransit: 1,
      bandwidthMbps: undefined,
      members: [{ member: "vm1", request: request("vm1") }],
    });
    const group = j.clusters.intendShared(c.id, { cloud: "lab-b", kind: "security_group", name: "web" });
    const key = j.clusters.intendShared(c.id, { cloud: "lab-b", kind: "keypair", name: "k" });
    expect([group, key]).toEqual([1, 2]);
    j.clusters.sharedCreated(c.id, group, "sg-1");
    j.close();
    // A crash after the key pair's intent: its row says `creating`, without an id (found by name).
    const again = Journal.open(path);
    expect(again.clusters.sharedResources(c.id)).toEqual([
      { seq: 1, cloud: "lab-b", kind: "security_group", name: "web", id: "sg-1", state: "present" },
      { seq: 2, cloud: "lab-b", kind: "keypair", name: "k", id: null, state: "creating" },
    ]);
    again.clusters.sharedDeleted(c.id, key);
    expect(again.clusters.sharedResources(c.id).map((r) => r.state)).toEqual(["present", "deleted"]);
    // Another cluster migration's numbering is its own.
    const other = again.clusters.create({ ...c.request, cluster: "c10" });
    expect(again.clusters.intendShared(other.id, { cloud: "lab-a", kind: "keypair", name: "k" })).toBe(1);
    expect(again.clusters.sharedResources(other.id)).toHaveLength(1);
    again.close();
  });
});
