/** The runner's steps, in order. The transfer is one step: download and upload overlap. */
export const STEPS = [
  "precheck",
  "source_auth",
  "image_creation",
  "target_auth",
  "security_setup",
  "image_transfer",
  "instantiation",
  "network_setup",
  "release_source",
] as const;
export type Step = (typeof STEPS)[number];

/** The phases timed and reported (the paper's eight, download and upload apart, and the release). */
export const TIMED_PHASES = [
  "source_auth",
  "image_creation",
  "image_download",
  "target_auth",
  "image_upload",
  "security_setup",
  "instantiation",
  "network_setup",
  "release_source",
] as const;
export type TimedPhase = (typeof TIMED_PHASES)[number];

export type MigrationStatus = "running" | "rolling_back" | "succeeded" | "failed" | "cancelled";

export const TERMINAL: readonly MigrationStatus[] = ["succeeded", "failed", "cancelled"];

export type ResourceKind =
  | "image"
  | "security_group"
  | "keypair"
  | "server"
  | "floating_ip"
  | "announcement"
  | "rebind";
/** The kinds that live in a cloud (the others are the controller's announcement and rebind). */
export type CloudKind = Exclude<ResourceKind, "announcement" | "rebind">;
export type ResourceSide = "source" | "target" | "controller";
/** Written `creating` before the call that creates it, `present` with its id after, `deleted` after deletion. */
export type ResourceState = "creating" | "present" | "deleted";

export interface JournalResource {
  readonly seq: number;
  readonly side: ResourceSide;
  readonly kind: ResourceKind;
  /** The name we create it with (found by it when a crash left no id), or for controller effects what to undo. */
  readonly name: string;
  readonly id: string | null;
  readonly state: ResourceState;
  /** Created by this migration (false: the source's own server and floating IP, released at the end). */
  readonly owned: boolean;
}

export interface MigrationRequest {
  readonly member: string;
  readonly server: string;
  readonly sourceCloud: string;
  readonly targetCloud: string;
  readonly targetNetwork: string;
  readonly flavor: string | undefined;
  readonly dryRun: boolean;
  readonly userData: string | undefined;
}

export type UndoAction =
  | { readonly do: "rebind_back"; readonly seq: number; readonly endpoint: string }
  | { readonly do: "withdraw"; readonly seq: number }
  | {
      readonly do: "delete";
      readonly seq: number;
      readonly side: "source" | "target";
      readonly kind: CloudKind;
      readonly id: string | null;
      readonly name: string;
    };

function isCloudResource(
  r: JournalResource,
): r is JournalResource & { side: "source" | "target"; kind: CloudKind } {
  return r.side !== "controller" && r.kind !== "announcement" && r.kind !== "rebind";
}

/**
 * What undoes a failed or interrupted migration, in order: the controller first (the member's
 * links go back to the source), then every cloud resource this migration created, newest first.
 * The source's own server and floating IP are never touched.
 */
export function rollbackPlan(resources: readonly JournalResource[]): UndoAction[] {
  const live = resources.filter((r) => r.state !== "deleted").sort((a, b) => b.seq - a.seq);
  const actions: UndoAction[] = [];
  for (const r of live) {
    if (r.kind === "rebind") actions.push({ do: "rebind_back", seq: r.seq, endpoint: r.name });
  }
  for (const r of live) {
    if (r.kind === "announcement") actions.push({ do: "withdraw", seq: r.seq });
  }
  for (const r of live) {
    if (!r.owned || !isCloudResource(r)) continue;
    actions.push({ do: "delete", seq: r.seq, side: r.side, kind: r.kind, id: r.id, name: r.name });
  }
  return actions;
}

/**
 * What releases the source once the target is linked and checked (seed 000, Algorithm 1): the
 * source server, its floating IPs, the snapshot image; and the announcement record, now spent.
 */
export function releasePlan(resources: readonly JournalResource[]): UndoAction[] {
  const order: CloudKind[] = ["floating_ip", "server", "image"];
  return resources
    .filter(isCloudResource)
    .filter((r) => r.side === "source" && r.state !== "deleted" && order.includes(r.kind))
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))
    .map((r) => ({ do: "delete", seq: r.seq, side: "source", kind: r.kind, id: r.id, name: r.name }));
}

/** After a restart: finish what is past the commit point, undo what is not, leave the rest. */
export function recoveryFor(m: {
  status: MigrationStatus;
  committed: boolean;
}): "none" | "release" | "rollback" {
  if (TERMINAL.includes(m.status)) return "none";
  if (m.status === "running" && m.committed) return "release";
  return "rollback";
}

/** Bytes per second and seconds left, from what flowed since `startedMs`. */
export function rateAndEta(
  bytes: number,
  total: number | undefined,
  startedMs: number,
  nowMs: number,
): { rate: number; etaSeconds: number | null } {
  const seconds = (nowMs - startedMs) / 1000;
  const rate = seconds > 0 ? bytes / seconds : 0;
  const etaSeconds = total === undefined || rate <= 0 ? null : Math.max(0, (total - bytes) / rate);
  return { rate, etaSeconds };
}
