import type { Ipv4 } from "../../contract/dataplane/index.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { Member } from "../model/member.ts";
import { diffRules, type RuleDiff } from "./diff.ts";
import { type CompileOptions, compileSwitch, countSwitch, forgetVni } from "./flow-compiler.ts";
import type { Rule } from "./rule.ts";
import {
  type MemberMove,
  planAdd,
  planAnnounce,
  planCreate,
  planRebind,
  planRebindBatch,
  planRemove,
  type TransitionPlan,
} from "./transition-planner.ts";

/**
 * What every switch should hold, and what to send to get it there: the one place the compiler's
 * options are applied, so a reconciled switch, a rebind's plan and the inventory's desired counts
 * cannot disagree. Pure; the cluster service plans changes with it, the switch side reconciles.
 */
export class RulePlanner {
  readonly #options: CompileOptions;

  constructor(options: CompileOptions) {
    this.#options = { ...options };
  }

  /** The UDP port the compiled probe rules hand to the controller (undefined: no probes). */
  get probePort(): number | undefined {
    return this.#options.probePort;
  }

  /** The rules member `vmId`'s switch should hold. */
  desired(state: ClusterState, vmId: string): Rule[] {
    return compileSwitch(state, vmId, this.#options);
  }

  /** How many rules member `vmId`'s switch should hold: desired(state, vmId).length, cheaper. */
  desiredCount(state: ClusterState, vmId: string): number {
    return countSwitch(state, vmId, this.#options);
  }

  /** A switch that holds `current` of ours: what it should hold, and the difference to send. */
  reconcile(
    state: ClusterState,
    vmId: string,
    current: readonly Rule[],
  ): { desired: Rule[]; diff: RuleDiff } {
    const desired = this.desired(state, vmId);
    return { desired, diff: diffRules(current, desired) };
  }

  /** See transition-planner.ts: each plan is make-before-break, computed from what the change touches. */
  rebind(state: ClusterState, vmId: string, endpoint: Ipv4): TransitionPlan {
    return planRebind(state, vmId, endpoint, this.#options);
  }

  rebindBatch(state: ClusterState, moves: readonly MemberMove[]): TransitionPlan {
    return planRebindBatch(state, moves, this.#options);
  }

  announce(state: ClusterState, vmId: string, next: Ipv4 | null): TransitionPlan {
    return planAnnounce(state, vmId, next, this.#options);
  }

  create(state: ClusterState, vmIds: ReadonlySet<string>): TransitionPlan {
    return planCreate(state, vmIds, this.#options);
  }

  add(state: ClusterState, member: Member): TransitionPlan {
    return planAdd(state, member, this.#options);
  }

  remove(state: ClusterState, vmId: string): TransitionPlan {
    return planRemove(state, vmId, this.#options);
  }

  /** A cluster is gone: the compiler's caches keep none of its rules. */
  forget(vni: number): void {
    forgetVni(vni);
  }
}
