import { UsageError } from "../contract/cli/index.ts";
import { errorSpec, isErrorCode } from "../contract/errors/index.ts";
import type { ClusterMigrationView } from "./api/cluster-views.ts";
import type { MediationClient } from "./client.ts";
import type { ClusterPlan } from "./planner/cluster-plan.ts";
import { clusterBars } from "./progress.ts";

export interface ClusterCliValues {
  readonly cluster: string;
  readonly to: string | undefined;
  readonly network: string | undefined;
  readonly mode: string | undefined;
  readonly plan: boolean;
  readonly wait: boolean;
  readonly "max-parallel": string | undefined;
  readonly "max-in-transit": string | undefined;
  readonly "bandwidth-mbps": string | undefined;
}

const positive = (flag: string, v: string | undefined, integer: boolean): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0) || (integer && !Number.isInteger(n)))
    throw new UsageError(`${flag} must be a positive ${integer ? "integer" : "number"}`);
  return n;
};

/** The request body of `icsdn migrate --cluster ID --to CLOUD ...`. */
export function clusterRequest(v: ClusterCliValues): Record<string, unknown> {
  if (v.to === undefined) throw new UsageError("--to CLOUD is required with --cluster");
  const mode = v.mode ?? "atomic";
  if (mode !== "atomic" && mode !== "rolling") throw new UsageError("--mode must be atomic or rolling");
  const maxParallel = positive("--max-parallel", v["max-parallel"], true);
  const maxInTransit = positive("--max-in-transit", v["max-in-transit"], true);
  const bandwidthMbps = positive("--bandwidth-mbps", v["bandwidth-mbps"], false);
  return {
    cluster: v.cluster,
    target: { cloud: v.to, ...(v.network !== undefined && { network: v.network }) },
    mode,
    ...(maxParallel !== undefined && { maxParallel }),
    ...(maxInTransit !== undefined && { maxInTransit }),
    ...(bandwidthMbps !== undefined && { bandwidthMbps }),
  };
}

const mb = (n: number | null) => (n === null ? "?" : `${(n / 1e6).toFixed(1)} MB`);

/** The plan as lines: per member where it is and goes, then the whole and every problem. */
export function planLines(plan: ClusterPlan): string[] {
  const lines = plan.members.map(
    (m) =>
      `${m.member}: ${m.source.cloud ?? "?"}/${m.server} (${m.flavor.source ?? "?"}, ${mb(m.imageBytes)}, fip ${m.floatingIp ?? "-"}, groups ${m.securityGroups.join(",") || "-"}) -> ${m.target.cloud}/${m.target.network} (${m.flavor.target ?? "?"}, groups reused ${m.securityGroupMapping.reuse.join(",") || "-"}, created ${m.securityGroupMapping.create.join(",") || "-"}), predicted ${m.predicted.seconds === null ? "?" : `${m.predicted.seconds} s`}`,
  );
  lines.push(
    `whole: ${mb(plan.predicted.bytes)}, predicted ${plan.predicted.seconds === null ? "? (no migration observed yet)" : `${plan.predicted.seconds} s`}`,
  );
  for (const p of plan.problems) lines.push(`problem: ${p.field}: ${p.message}`);
  return lines;
}

/** Follows a cluster migration: one bar per member on a terminal (redrawn in place), plain lines otherwise. */
async function follow(api: MediationClient, id: string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let drawn = 0;
  let view = await api.getCluster(id);
  const draw = (v: ClusterMigrationView) => {
    const bars = clusterBars(v.members);
    process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}F` : ""}${bars.map((b) => `${b}\x1b[K`).join("\n")}\n`);
    drawn = bars.length;
  };
  for await (const e of api.clusterEvents(id)) {
    if (e.type === "progress") continue;
    if (tty) {
      if (e.type === "member") {
        view = await api.getCluster(id);
        draw(view);
      } else {
        drawn = 0;
        process.stdout.write(`${e.type}${e.data.phase ? ` ${String(e.data.phase)}` : ""}\n`);
      }
      continue;
    }
    if (e.type === "member") {
      const d = e.data;
      process.stdout.write(
        `member ${String(d.member)} ${String(d.state)} ${String(d.phase)} ${mb(Number(d.bytesDone))}/${mb(d.bytesTotal as number | null)}\n`,
      );
    } else if (e.type !== "planned") {
      const detail = Object.entries(e.data)
        .filter(([k]) => k !== "at")
        .map(([k, val]) => `${k}=${typeof val === "string" ? val : JSON.stringify(val)}`)
        .join(" ");
      process.stdout.write(`${e.type}${detail ? ` ${detail}` : ""}\n`);
    }
  }
  const final = await api.getCluster(id);
  process.stdout.write(
    `cluster migration ${id}: ${final.status}${final.commitMs === null ? "" : ` (commit ${final.commitMs} ms)`}${final.error ? ` (${final.error.code}: ${final.error.message})` : ""}\n`,
  );
  if (final.status === "succeeded") return 0;
  return final.error && isErrorCode(final.error.code) ? errorSpec(final.error.code).exit : 1;
}

/** `icsdn migrate --cluster ID --to CLOUD [--plan] [--mode atomic|rolling] [--wait]`. */
export async function migrateCluster(api: MediationClient, v: ClusterCliValues): Promise<number> {
  const request = clusterRequest(v);
  if (v.plan) {
    const plan = await api.planCluster(request);
    for (const line of planLines(plan)) process.stdout.write(`${line}\n`);
    return plan.problems.length === 0 ? 0 : 2;
  }
  const m = await api.createCluster(request);
  process.stdout.write(
    `cluster migration ${m.id} started (${v.cluster}: ${m.members.length} members -> ${v.to}, ${m.mode})\n`,
  );
  return v.wait ? follow(api, m.id) : 0;
}
