import type { ClusterMigrationRecord } from "../journal/cluster-journal.ts";
import type { Journal } from "../journal/journal.ts";
import { clusterMemberView, commitMs, wholeProgress } from "../runner/cluster-coordinator.ts";

/**
 * A cluster migration as the API shows it: each member's migration (phase, bytes, rate, ETA,
 * whether it is in transit and since when), the whole's progress, the atomic commit's duration,
 * and per phase the wall time from the first member's start to the last member's end.
 */
export function clusterMigrationView(journal: Journal, r: ClusterMigrationRecord) {
  const members = journal.clusters.members(r.id);
  const spans = new Map<string, { start: number; end: number | null }>();
  for (const m of members) {
    if (m.migrationId === null) continue;
    for (const t of journal.timings(m.migrationId)) {
      const s = spans.get(t.phase);
      spans.set(t.phase, {
        start: Math.min(s?.start ?? t.startedAt, t.startedAt),
        end: s && s.end === null ? null : t.endedAt === null ? null : Math.max(s?.end ?? 0, t.endedAt),
      });
    }
  }
  const timings: Record<string, number | null> = {};
  for (const [phase, s] of spans) timings[phase] = s.end === null ? null : (s.end - s.start) / 1000;
  const done = r.status === "succeeded" || r.status === "failed" || r.status === "cancelled";
  timings.total = done ? (r.updatedAt - r.createdAt) / 1000 : null;
  return {
    id: r.id,
    cluster: r.cluster,
    mode: r.request.mode,
    status: r.status,
    phase: r.phase,
    error: r.error,
    maxParallel: r.request.maxParallel,
    maxInTransit: r.request.maxInTransit,
    bandwidthMbps: r.request.bandwidthMbps ?? null,
    members: members.map((m) => ({
      ...clusterMemberView(journal, m.member, m.state, m.migrationId),
      cutover: {
        startedAt: m.cutoverStartedAt === null ? null : new Date(m.cutoverStartedAt).toISOString(),
        endedAt: m.cutoverEndedAt === null ? null : new Date(m.cutoverEndedAt).toISOString(),
      },
    })),
    progress: wholeProgress(journal, r.id),
    commitMs: commitMs(r),
    timings,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

export type ClusterMigrationView = ReturnType<typeof clusterMigrationView>;
