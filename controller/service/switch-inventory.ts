import { formatDpid } from "../../contract/dataplane/index.ts";
import type { RulePlanner } from "../compiler/rule-planner.ts";
import type { SwitchFabric, SwitchStatus } from "../fabric/switch-fabric.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { ClusterStore } from "../store/cluster-store.ts";

/** One row of GET /v1/switches: a member's switch session (or its absence), or an unknown switch. */
export interface SwitchEntry {
  readonly dpid: string;
  readonly clusterId: string | null;
  readonly vmId: string | null;
  readonly connected: boolean;
  /** The member's stored endpoint. */
  readonly endpoint: string | null;
  /** Where the session comes from, as the fabric sees it. */
  readonly remoteAddress: string | null;
  /** How long the session has been up (ms), null when none is. */
  readonly connectedForMs: number | null;
  /** What the switch holds (fabric's count), null if unknown. */
  readonly ruleCount: number | null;
  /** What the compiler says it should hold; null for a switch that is no member. */
  readonly desiredRuleCount: number | null;
}

/** Only one cluster's members, or one member's (a poll for one switch need not list them all). */
export interface SwitchFilter {
  readonly clusterId?: string;
  readonly vmId?: string;
}

/**
 * Joins the fabric's sessions with the stored members: every member appears (unconnected ones
 * too), once per session when a moved VM's old and new instance are both connected; sessions
 * whose dpid is no member appear with a null member (only when nothing is filtered).
 */
export async function listSwitches(
  store: ClusterStore,
  fabric: SwitchFabric,
  planner: RulePlanner,
  filter: SwitchFilter = {},
): Promise<SwitchEntry[]> {
  const sessions = await fabric.switches();
  const byDpid = new Map<bigint, SwitchStatus[]>();
  for (const s of sessions) byDpid.set(s.dpid, [...(byDpid.get(s.dpid) ?? []), s]);
  const states = new Map<string, ClusterState>();
  const entries: { dpid: bigint; entry: SwitchEntry }[] = [];
  const known = new Set<bigint>();
  const filtered = filter.clusterId !== undefined || filter.vmId !== undefined;
  const members =
    filter.clusterId !== undefined
      ? (store.clusterState(filter.clusterId)?.members ?? [])
      : store.allMembers();
  for (const member of members) {
    if (filter.vmId !== undefined && member.vmId !== filter.vmId) continue;
    known.add(member.dpid);
    let state = states.get(member.clusterId);
    if (!state) {
      state = store.clusterState(member.clusterId)!;
      states.set(member.clusterId, state);
    }
    const base = {
      dpid: formatDpid(member.dpid),
      clusterId: member.clusterId,
      vmId: member.vmId,
      endpoint: member.endpoint,
      desiredRuleCount: planner.desiredCount(state, member.vmId),
    };
    const mine = byDpid.get(member.dpid) ?? [];
    if (mine.length === 0) {
      entries.push({
        dpid: member.dpid,
        entry: { ...base, connected: false, remoteAddress: null, connectedForMs: null, ruleCount: null },
      });
    }
    for (const s of mine) {
      entries.push({
        dpid: member.dpid,
        entry: {
          ...base,
          connected: s.connected,
          remoteAddress: s.remoteAddress,
          connectedForMs: s.connected ? s.connectedForMs : null,
          ruleCount: s.ruleCount,
        },
      });
    }
  }
  for (const s of sessions) {
    if (filtered || known.has(s.dpid)) continue;
    entries.push({
      dpid: s.dpid,
      entry: {
        dpid: formatDpid(s.dpid),
        clusterId: null,
        vmId: null,
        connected: s.connected,
        endpoint: null,
        remoteAddress: s.remoteAddress,
        connectedForMs: s.connected ? s.connectedForMs : null,
        ruleCount: s.ruleCount,
        desiredRuleCount: null,
      },
    });
  }
  return entries.sort((a, b) => (a.dpid < b.dpid ? -1 : a.dpid > b.dpid ? 1 : 0)).map((e) => e.entry);
}

/** Switch sessions up now (a moved VM's old and new instance count twice). */
export async function countConnectedSwitches(fabric: SwitchFabric): Promise<number> {
  return (await fabric.switches()).filter((s) => s.connected).length;
}

/** Members with an endpoint (placed VMs) whose switch has no session: what an operator must look at. */
export async function countMissingSwitches(store: ClusterStore, fabric: SwitchFabric): Promise<number> {
  const up = new Set((await fabric.switches()).filter((s) => s.connected).map((s) => s.dpid));
  return store.allMembers().filter((m) => m.endpoint !== null && !up.has(m.dpid)).length;
}
