import type { Journal, MigrationRecord } from "../journal/journal.ts";
import { rateAndEta } from "../model/migration.ts";

/** A migration as the API shows it: where it is, how fast, what it holds in each cloud. */
export function migrationView(journal: Journal, m: MigrationRecord, now = Date.now()) {
  const started = m.transferStartedAt;
  const transferring = m.step === "image_transfer" && m.status === "running";
  const { rate, etaSeconds } =
    started === null
      ? { rate: 0, etaSeconds: null }
      : rateAndEta(m.bytesDone, m.bytesTotal ?? undefined, started, transferring ? now : m.updatedAt);
  const timings: Record<string, number | null> = {};
  for (const t of journal.timings(m.id))
    timings[t.phase] = t.endedAt === null ? null : (t.endedAt - t.startedAt) / 1000;
  const clouds = {
    source: m.request.sourceCloud,
    target: m.request.targetCloud,
    controller: "controller",
  } as const;
  return {
    id: m.id,
    member: m.member,
    server: m.request.server,
    source: { cloud: m.request.sourceCloud },
    target: { cloud: m.request.targetCloud, network: m.request.targetNetwork },
    status: m.status,
    phase: m.step,
    committed: m.committed,
    error: m.error,
    bytes: { done: m.bytesDone, total: m.bytesTotal },
    rateBytesPerSecond: Math.round(rate),
    etaSeconds: etaSeconds === null ? null : Math.round(etaSeconds * 10) / 10,
    uploadAttempt: m.uploadAttempt,
    downloadResumes: m.downloadResumes,
    releaseAttempt: m.releaseAttempt,
    clusterMigrationId: m.clusterMigrationId,
    imageHash: m.imageHash,
    timings,
    resources: journal.resources(m.id).map((r) => ({
      where: clouds[r.side],
      side: r.side,
      kind: r.kind,
      name: r.name,
      id: r.id,
      state: r.state,
      owned: r.owned,
    })),
    createdAt: new Date(m.createdAt).toISOString(),
    updatedAt: new Date(m.updatedAt).toISOString(),
  };
}

export type MigrationView = ReturnType<typeof migrationView>;
