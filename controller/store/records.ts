/** How long one VM took from vm-init's network step to its switch connected (reported by vm-init). */
export interface LinkingRecord {
  readonly id: number;
  readonly clusterId: string;
  readonly vmId: string;
  readonly linkingMs: number;
  /** ISO 8601, UTC. */
  readonly at: string;
}

export type RebindResult = "ok" | "failed";

/** One rebind attempt that reached the switches: from which endpoint to which, and how long it took. */
export interface RebindRecord {
  readonly id: number;
  readonly clusterId: string;
  readonly vmId: string;
  readonly oldEndpoint: string | null;
  readonly newEndpoint: string;
  readonly updateMs: number;
  readonly result: RebindResult;
  readonly at: string;
}
