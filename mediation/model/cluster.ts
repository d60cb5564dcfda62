import type { MigrationRequest, MigrationStatus } from "./migration.ts";

export type ClusterMode = "atomic" | "rolling";
export type ClusterStatus = MigrationStatus;

/**
 * Where a cluster migration is. `confirmed` is the atomic mode's commit point: written once every
 * member is rebound; before it a crash rolls the whole cluster back, after it a restart finishes.
 */
export type ClusterPhase = "preparing" | "committing" | "confirmed" | "done";

/**
 * A member's place in its cluster migration: `verified` waits at the gate (target booted,
 * announced, switch connected); `rebinding` and `rebound` are the cutover (atomic: `rebound`, the
 * rebind done and the links checked, waits for the cluster's confirmation); `releasing` is past
 * the member's commit point.
 */
export type MemberState =
  | "pending"
  | "preparing"
  | "verified"
  | "rebinding"
  | "rebound"
  | "releasing"
  | "done"
  | "failed";

/** In transit: between the rebind and the source's release (rolling mode bounds how many at once). */
export const IN_TRANSIT: readonly MemberState[] = ["rebinding", "rebound", "releasing"];
const ACTIVE: readonly MemberState[] = ["preparing", "verified", ...IN_TRANSIT];

export interface SchedulerInput {
  readonly mode: ClusterMode;
  readonly maxParallel: number;
  readonly maxInTransit: number;
  readonly phase: ClusterPhase;
  readonly members: readonly { readonly member: string; readonly state: MemberState }[];
  /** A cancel was asked for. */
  readonly cancelled: boolean;
  /** Atomic, restarted before its confirmation: the whole cluster rolls back. */
  readonly interrupted: boolean;
}

export interface Decision {
  /** Members whose migration starts now (at most maxParallel preparing at once). */
  readonly start: readonly string[];
  /** Members that may rebind now (atomic: all together, the commit; rolling: up to maxInTransit). */
  readonly cut: readonly string[];
  /** Atomic: every member is rebound, the cluster's commit point is reached. */
  readonly confirm: boolean;
  /** Stop: cancel every member not past its commit point (they roll back). */
  readonly abort: boolean;
  /** Set once no member is active any more: how the cluster migration ended. */
  readonly outcome: Exclude<ClusterStatus, "running" | "rolling_back"> | undefined;
}

/**
 * The coordinator's next move, from the members' states alone (pure; called after every change).
 * Atomic: any failure before the confirmation aborts every member; all must be verified before
 * any rebinds. Rolling: a failure stops new starts and cancels members not yet cut over.
 */
export function nextDecision(input: SchedulerInput): Decision {
  const { members, mode } = input;
  const count = (states: readonly MemberState[]) => members.filter((m) => states.includes(m.state)).length;
  const failed = count(["failed"]) > 0;
  const confirmedAlready = input.phase === "confirmed" || input.phase === "done";
  const abort = (input.cancelled || input.interrupted || failed) && !(mode === "atomic" && confirmedAlready);
  const active = count(ACTIVE);
  let outcome: Decision["outcome"];
  if (active === 0 && (abort || count(["pending"]) === 0)) {
    if (count(["done"]) === members.length) outcome = "succeeded";
    else outcome = input.cancelled ? "cancelled" : "failed";
  }
  if (abort || outcome) return { start: [], cut: [], confirm: false, abort, outcome };

  const start: string[] = [];
  let preparing = count(["preparing"]);
  for (const m of members) {
    if (preparing >= input.maxParallel) break;
    if (m.state === "pending") {
      start.push(m.member);
      preparing++;
    }
  }
  const verified = members.filter((m) => m.state === "verified").map((m) => m.member);
  let cut: string[] = [];
  let confirm = false;
  if (mode === "atomic") {
    if (input.phase === "preparing" && verified.length === members.length) cut = verified;
    confirm = input.phase === "committing" && count(["rebound"]) === members.length;
  } else {
    cut = verified.slice(0, Math.max(0, input.maxInTransit - count(IN_TRANSIT)));
  }
  return { start, cut, confirm, abort: false, outcome: undefined };
}

/** A member migration as the journal holds it after a restart. */
export interface RecoveredMember {
  readonly member: string;
  readonly migration: { readonly status: MigrationStatus; readonly committed: boolean } | undefined;
}

export interface ClusterRecovery {
  /** Member migrations to mark committed before the single-member recovery runs (they release). */
  readonly commit: readonly string[];
  /** The state each member resumes from; an unfinished one settles through its own recovery. */
  readonly resumeAs: ReadonlyMap<string, MemberState>;
  /** Atomic before its confirmation: nothing more starts, the whole cluster rolls back. */
  readonly interrupted: boolean;
}

/**
 * What a restart does with an unfinished cluster migration. Atomic: past the confirmation every
 * member is finished (marked committed, so it releases its source); before it every member rolls
 * back, and the cluster ends where it began. Rolling: committed members release, the others roll
 * back (their own recovery) and start again: the cluster resumes.
 */
export function clusterRecovery(
  mode: ClusterMode,
  phase: ClusterPhase,
  members: readonly RecoveredMember[],
): ClusterRecovery {
  const commit: string[] = [];
  const resumeAs = new Map<string, MemberState>();
  const confirmed = phase === "confirmed" || phase === "done";
  for (const m of members) {
    const mig = m.migration;
    if (mig === undefined) resumeAs.set(m.member, "pending");
    else if (mig.status === "succeeded") resumeAs.set(m.member, "done");
    else if (mig.status === "failed" || mig.status === "cancelled") resumeAs.set(m.member, "failed");
    else if (mig.committed) resumeAs.set(m.member, "releasing");
    else if (mode === "atomic" && confirmed) {
      commit.push(m.member);
      resumeAs.set(m.member, "releasing");
    } else resumeAs.set(m.member, "preparing");
  }
  return { commit, resumeAs, interrupted: mode === "atomic" && !confirmed };
}

/** An applied cluster migration as journaled: what each member's migration asks, and the limits. */
export interface ClusterRequest {
  readonly cluster: string;
  readonly mode: ClusterMode;
  readonly maxParallel: number;
  readonly maxInTransit: number;
  readonly bandwidthMbps: number | undefined;
  readonly members: readonly { readonly member: string; readonly request: MigrationRequest }[];
}

/**
 * A target cloud resource the cluster migration created for its members (planner/shared-resources.ts):
 * written down `creating` before it is created, `deleted` after it is deleted, like a member's own.
 */
export interface SharedResource {
  readonly seq: number;
  readonly cloud: string;
  readonly kind: "security_group" | "keypair";
  readonly name: string;
  readonly id: string | null;
  readonly state: "creating" | "present" | "deleted";
}

/**
 * What the cluster deletes of its shared resources once no member is active (every member's own
 * rollback is over): those in a target cloud where no member moved to, newest first. A cloud where
 * a member arrived (or is on its way: past its commit) keeps them, its server uses them; a member
 * that failed or never started does not.
 */
export function sharedRelease(
  resources: readonly SharedResource[],
  members: readonly { readonly targetCloud: string; readonly state: MemberState }[],
): SharedResource[] {
  const inUse = new Set(
    members.filter((m) => m.state !== "failed" && m.state !== "pending").map((m) => m.targetCloud),
  );
  return resources.filter((r) => r.state !== "deleted" && !inUse.has(r.cloud)).sort((a, b) => b.seq - a.seq);
}
