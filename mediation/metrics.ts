import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The mediation's Prometheus metrics, on their own Registry (several services may share a process in tests). */
export class MediationMetrics {
  readonly registry = new Registry();
  readonly phaseSeconds: Histogram<"phase">;
  readonly bytesTotal: Counter<"direction">;
  readonly migrationsTotal: Counter<"result">;
  readonly inFlight: Gauge;
  readonly clusterMigrationsTotal: Counter<"mode" | "result">;
  readonly clusterCommitSeconds: Histogram;

  constructor(inFlight: () => number) {
    const registers = [this.registry];
    this.phaseSeconds = new Histogram({
      name: "icsdn_migration_phase_seconds",
      help: "Time spent in each migration phase (the paper's eight, download and upload apart, and the source release)",
      labelNames: ["phase"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers,
    });
    this.bytesTotal = new Counter({
      name: "icsdn_migration_bytes_total",
      help: "Image bytes moved by migrations, by direction (download from the source, upload to the target)",
      labelNames: ["direction"],
      registers,
    });
    this.migrationsTotal = new Counter({
      name: "icsdn_migrations_total",
      help: "Finished migrations by result (succeeded, failed, cancelled)",
      labelNames: ["result"],
      registers,
    });
    this.clusterMigrationsTotal = new Counter({
      name: "icsdn_cluster_migrations_total",
      help: "Finished cluster migrations by mode (atomic, rolling) and result (succeeded, failed, cancelled)",
      labelNames: ["mode", "result"],
      registers,
    });
    this.clusterCommitSeconds = new Histogram({
      name: "icsdn_cluster_commit_seconds",
      help: "An atomic cluster migration's commit: from the first member's rebind to the last one's (the cluster's update time)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.inFlight = new Gauge({
      name: "icsdn_migrations_in_flight",
      help: "Migrations running or rolling back",
      registers,
      collect() {
        this.set(inFlight());
      },
    });
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
