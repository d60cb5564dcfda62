import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "../../../controller/model/cluster.ts";
import type { ClusterState } from "../../../controller/model/cluster-state.ts";
import { memberOf } from "../../../controller/model/member.ts";

/** [vmId, vint0, endpoint, nextEndpoint?] */
export type MemberSpec = readonly [string, string, string | null, (string | null)?];

export function makeState(vni: number, members: readonly MemberSpec[], id = "web"): ClusterState {
  const cluster: Cluster = { id, vni, tunnel: "vxlan", description: "" };
  return {
    cluster,
    members: members.map(([vmId, vint0, endpoint, next]) =>
      memberOf(cluster, { vmId, vint0, endpoint, description: "" }, next ?? null),
    ),
  };
}

/** A fresh temp dir and its removal (call in afterEach/afterAll, even when a test fails). */
export function tempDir(prefix = "icsdn-controller-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What a planner returns, or what it throws: two planners must agree on both. */
export function outcome(plan: () => unknown): unknown {
  try {
    return plan();
  } catch (err) {
    return err;
  }
}
