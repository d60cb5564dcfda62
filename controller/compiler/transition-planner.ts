import type { Ipv4 } from "../../contract/dataplane/index.ts";
import { ControllerError } from "../errors.ts";
import { type ClusterState, findMember, replaceMember } from "../model/cluster-state.ts";
import type { Member } from "../model/member.ts";
import { isEgressRule, ruleKind } from "./cookie.ts";
import { diffRules } from "./diff.ts";
import {
  acceptRules,
  announcedArp,
  type CompileOptions,
  compileCluster,
  compileSwitch,
  deriveUnion,
  memberRules,
  peerRules,
} from "./flow-compiler.ts";
import { type Rule, sortRules } from "./rule.ts";

/** What one switch must do in one phase: applied as one bundle, confirmed with one barrier. */
export interface SwitchBatch {
  readonly dpid: bigint;
  readonly vmId: string;
  /**
   * The member's switch may be a new instance (a VM booted elsewhere that reuses the dpid) while
   * the old one still runs: the fabric must apply this to the session of the instance at `endpoint`.
   */
  readonly fresh: boolean;
  /** The member's endpoint in the target state. */
  readonly endpoint: Ipv4 | null;
  readonly add: readonly Rule[];
  readonly delete: readonly Rule[];
}

export const PHASE_NAMES = ["prepare", "switch", "cleanup"] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface TransitionPhase {
  readonly name: PhaseName;
  /** One batch per switch with something to do; switches in a phase may be applied in parallel. */
  readonly batches: readonly SwitchBatch[];
}

/** Three phases, always in this order; a phase may have no batches. */
export type TransitionPlan = readonly [TransitionPhase, TransitionPhase, TransitionPhase];

/**
 * Make-before-break plan from one cluster state to another. Per switch, the rule diff is split by
 * rule kind (read from the cookie):
 *
 * 1. prepare: every new ingress (accept tunnel packets from a new endpoint); `fresh` members' switches
 *    get their whole target rule set (a moved VM's new instance must deliver before anyone sends to it);
 * 2. switch:  egress changes (send to the new endpoint; stop sending to a removed member);
 * 3. cleanup: ingress removals (stop accepting from the old endpoint) and any rule not ours.
 *
 * A phase starts only after every batch of the previous one is confirmed, so at every moment each
 * switch sends only where the receiver already accepts, and accepts every source a live peer may
 * still use. Switches of members absent from `after` get nothing.
 */
export function planTransition(
  before: ClusterState,
  after: ClusterState,
  fresh: ReadonlySet<string>,
  options: CompileOptions = {},
): TransitionPlan {
  if (before.cluster.id !== after.cluster.id || before.cluster.vni !== after.cluster.vni) {
    throw new RangeError("planTransition: before and after must be the same cluster");
  }
  const was = new Map(compileCluster(before, options).map((s) => [s.vmId, s.rules]));
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const target of compileCluster(after, options)) {
    const member = findMember(after, target.vmId)!;
    const base = { dpid: target.dpid, vmId: target.vmId, endpoint: member.endpoint };
    const current = was.get(target.vmId) ?? [];
    const diff = diffRules(current, target.rules);
    if (fresh.has(target.vmId)) {
      phases[0].push({ ...base, fresh: true, add: target.rules, delete: diff.delete });
      continue;
    }
    pushByKind(phases, base, diff);
  }
  return toPlan(phases);
}

/** A switch that stays where it is: its diff split by rule kind into the three phases. */
function pushByKind(
  phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]],
  base: Pick<SwitchBatch, "dpid" | "vmId" | "endpoint">,
  diff: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] },
): void {
  const split = (rules: readonly Rule[], phaseOf: (r: Rule) => 0 | 1 | 2) => {
    const out: [Rule[], Rule[], Rule[]] = [[], [], []];
    for (const r of rules) out[phaseOf(r)].push(r);
    return out;
  };
  const adds = split(diff.add, (r) => (isEgressRule(r) ? 1 : 0));
  const dels = split(diff.delete, (r) => (isEgressRule(r) ? 1 : 2));
  for (const p of [0, 1, 2] as const) {
    if (adds[p].length > 0 || dels[p].length > 0) {
      phases[p].push({ ...base, fresh: false, add: adds[p], delete: dels[p] });
    }
  }
}

/**
 * A moved member's new instance in a batch: it accepts everything first (prepare: its whole
 * target set but egress), sends with the peers (switch: its egress, now toward the other moved
 * members' new endpoints), and stops accepting their old endpoints last (cleanup).
 */
function pushMovedSwitch(
  phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]],
  base: Pick<SwitchBatch, "dpid" | "vmId" | "endpoint">,
  whole: readonly Rule[],
  forget: readonly Rule[],
): void {
  phases[0].push({ ...base, fresh: true, add: whole.filter((r) => !isEgressRule(r)), delete: [] });
  const send = whole.filter(isEgressRule);
  if (send.length > 0) phases[1].push({ ...base, fresh: true, add: send, delete: [] });
  if (forget.length > 0) phases[2].push({ ...base, fresh: true, add: [], delete: forget });
}

/** One member of a batch rebind: it now runs at `endpoint`. */
export interface MemberMove {
  readonly vmId: string;
  readonly endpoint: Ipv4;
}

/** The state after every move of `moves` (pure): announced next endpoints are used up. */
export function rebindBatchState(state: ClusterState, moves: readonly MemberMove[]): ClusterState {
  const to = new Map(moves.map((m) => [m.vmId, m.endpoint]));
  for (const vmId of to.keys()) {
    if (!findMember(state, vmId)) {
      throw new ControllerError("NOT_FOUND", `vmId: cluster '${state.cluster.id}' has no member '${vmId}'`, {
        field: "vmId",
      });
    }
  }
  return {
    ...state,
    members: state.members.map((m) => {
      const endpoint = to.get(m.vmId);
      return endpoint === undefined ? m : { ...m, endpoint, nextEndpoint: null };
    }),
  };
}

/**
 * Several members move at once (an atomic commit), diffing every switch: the reference
 * planRebindBatch is property-tested against, and its path for unusual batches. Switches that
 * stay get their diff split by kind as in planTransition; each moved member's new instance (the
 * session at its new endpoint) gets its whole target set split so that it accepts the other moved
 * members' new endpoints before any of them sends from there, and sends to them only in the switch
 * phase, when their new instances accept it: make-before-break among the moved members too.
 */
export function planBatchTransition(
  before: ClusterState,
  after: ClusterState,
  moved: ReadonlySet<string>,
  options: CompileOptions = {},
): TransitionPlan {
  if (before.cluster.id !== after.cluster.id || before.cluster.vni !== after.cluster.vni) {
    throw new RangeError("planBatchTransition: before and after must be the same cluster");
  }
  const was = new Map(compileCluster(before, options).map((s) => [s.vmId, s.rules]));
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const target of compileCluster(after, options)) {
    const member = findMember(after, target.vmId)!;
    const base = { dpid: target.dpid, vmId: target.vmId, endpoint: member.endpoint };
    const diff = diffRules(was.get(target.vmId) ?? [], target.rules);
    if (moved.has(target.vmId)) pushMovedSwitch(phases, base, target.rules, diff.delete);
    else pushByKind(phases, base, diff);
  }
  return toPlan(phases);
}

/**
 * Every member of `moves` now runs at its endpoint, in one make-before-break round for all of
 * them (POST /v1/clusters/{id}/rebinds): prepare (peers accept the new endpoints not announced;
 * each moved member's new instance accepts everything it will receive), ONE switch phase (every
 * switch, the moved members' new instances included, sends to every new endpoint), cleanup (every
 * switch stops accepting the old endpoints). Moving members one rebind after another instead has
 * a moment where one moved member's new instance still sends to another's old instance, or does
 * not yet accept its new endpoint.
 *
 * The same plan as planBatchTransition(state, rebindBatchState(...), moved) (property-tested),
 * built from what the moves change, as planRebind is: the moved members' switches compiled, every
 * peer's batches the same shared rule objects. An empty batch, a member named twice, an endpoint
 * unchanged, named twice, or one another member uses or announced takes the general path.
 */
export function planRebindBatch(
  state: ClusterState,
  moves: readonly MemberMove[],
  options: CompileOptions = {},
): TransitionPlan {
  const after = rebindBatchState(state, moves);
  const moved = new Map(moves.map((m) => [m.vmId, m.endpoint]));
  const byVmId = new Map(state.members.map((m) => [m.vmId, m]));
  // How many members use or announced each endpoint: a move's target may be only its own next one.
  const holders = new Map<Ipv4, number>();
  for (const m of state.members) {
    for (const e of [m.endpoint, m.nextEndpoint]) if (e !== null) holders.set(e, (holders.get(e) ?? 0) + 1);
  }
  const targets = new Set(moves.map((m) => m.endpoint));
  const unusual =
    moves.length === 0 ||
    moved.size !== moves.length ||
    targets.size !== moves.length ||
    moves.some(({ vmId, endpoint }) => {
      const old = byVmId.get(vmId)!;
      const own = old.nextEndpoint === endpoint ? 1 : 0;
      return old.endpoint === endpoint || (holders.get(endpoint) ?? 0) > own;
    });
  if (unusual) return planBatchTransition(state, after, new Set(moved.keys()), options);
  deriveUnion(state, after, options);
  const vni = state.cluster.vni;
  const send: Rule[] = [];
  const accept: Rule[] = [];
  const forgetOf = new Map<string, readonly Rule[]>();
  for (const { vmId, endpoint } of moves) {
    const old = byVmId.get(vmId)!;
    // Egress rules keep their identity (the match names the peer's vint0): replaced in place.
    send.push(...peerRules(vni, { ...old, endpoint }, options).filter(isEgressRule));
    if (old.nextEndpoint !== endpoint) accept.push(...acceptRules(vni, { ...old, endpoint }, options));
    const withdrawn = [old.endpoint, old.nextEndpoint].filter((e): e is Ipv4 => e !== null && e !== endpoint);
    forgetOf.set(
      vmId,
      withdrawn.flatMap((e) => acceptRules(vni, { ...old, endpoint: e }, options)),
    );
  }
  const sendAll = sortRules(send);
  const acceptAll = sortRules(accept);
  const forgetAll = sortRules([...forgetOf.values()].flat());
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const m of sortedByDpid(after.members)) {
    const base = { dpid: m.dpid, vmId: m.vmId, endpoint: m.endpoint };
    if (moved.has(m.vmId)) {
      const others = sortRules(moves.flatMap((x) => (x.vmId === m.vmId ? [] : forgetOf.get(x.vmId)!)));
      pushMovedSwitch(phases, base, compileSwitch(after, m.vmId, options), others);
      continue;
    }
    if (acceptAll.length > 0) phases[0].push({ ...base, fresh: false, add: acceptAll, delete: [] });
    phases[1].push({ ...base, fresh: false, add: sendAll, delete: [] });
    if (forgetAll.length > 0) phases[2].push({ ...base, fresh: false, add: [], delete: forgetAll });
  }
  return toPlan(phases);
}

/** The state after member `vmId` moves to `endpoint` (pure): any announced next endpoint is used up. */
export function rebindState(state: ClusterState, vmId: string, endpoint: Ipv4): ClusterState {
  if (!findMember(state, vmId)) {
    throw new ControllerError("NOT_FOUND", `vmId: cluster '${state.cluster.id}' has no member '${vmId}'`, {
      field: "vmId",
    });
  }
  return replaceMember(state, vmId, { endpoint, nextEndpoint: null });
}

/**
 * Member `vmId` now runs at `endpoint`: its (new) switch is programmed whole, then peers move over.
 *
 * The same plan as planTransition(state, rebindState(...), {vmId}) (property-tested), computed from
 * what a rebind can change instead of diffing every switch: only the moving member's own rules
 * (all of them, to its new instance) and, on every peer, the rules about the moving member. That
 * keeps a 1,000-member rebind at one compiled switch instead of two thousand, and every peer's
 * batch shares the same rule objects. Unusual cases (same endpoint, an endpoint another member
 * holds or announced) take the general path, which reports them exactly as before.
 *
 * When the member announced `endpoint` as its next one (Member.nextEndpoint), peers accept it
 * already: prepare is only the member's switch, and the rebind's first change on peers is egress.
 * A different announced endpoint is withdrawn in cleanup, with the old one.
 */
export function planRebind(
  state: ClusterState,
  vmId: string,
  endpoint: Ipv4,
  options: CompileOptions = {},
): TransitionPlan {
  const after = rebindState(state, vmId, endpoint);
  const old = findMember(state, vmId)!;
  const taken = (m: Member) => m.vmId !== vmId && (m.endpoint === endpoint || m.nextEndpoint === endpoint);
  if (old.endpoint === endpoint || state.members.some(taken)) {
    return planTransition(state, after, new Set([vmId]), options);
  }
  deriveUnion(state, after, options);
  const vni = state.cluster.vni;
  // Egress rules keep their identity (the match names the peer's vint0): replaced in place, never deleted.
  const send = sortRules(peerRules(vni, { ...old, endpoint }, options).filter(isEgressRule));
  const accept =
    old.nextEndpoint === endpoint ? [] : sortRules(acceptRules(vni, { ...old, endpoint }, options));
  const withdrawn = [old.endpoint, old.nextEndpoint].filter((e): e is Ipv4 => e !== null && e !== endpoint);
  const forget = sortRules(withdrawn.flatMap((e) => acceptRules(vni, { ...old, endpoint: e }, options)));
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const m of sortedByDpid(after.members)) {
    const base = { dpid: m.dpid, vmId: m.vmId, endpoint: m.endpoint };
    if (m.vmId === vmId) {
      phases[0].push({ ...base, fresh: true, add: compileSwitch(after, vmId, options), delete: [] });
      continue;
    }
    if (accept.length > 0) phases[0].push({ ...base, fresh: false, add: accept, delete: [] });
    phases[1].push({ ...base, fresh: false, add: send, delete: [] });
    if (forget.length > 0) phases[2].push({ ...base, fresh: false, add: [], delete: forget });
  }
  return toPlan(phases);
}

/**
 * Member `vmId` announces `next` as its next endpoint (null: withdraws it). The same plan as
 * planTransition(state, that state, {}) (property-tested), built from what changes: every other
 * member's switch starts accepting `next` (prepare), sends ARP for the member to both endpoints
 * (switch: flow-compiler's announcedArp, back to one when withdrawn) and stops accepting a
 * previous announcement (cleanup). Nothing else changes, so a 1,000-member cluster compiles no
 * switch. A `next` that another member uses or announced takes the general path, which refuses it.
 */
export function planAnnounce(
  state: ClusterState,
  vmId: string,
  next: Ipv4 | null,
  options: CompileOptions = {},
): TransitionPlan {
  const old = findMember(state, vmId);
  if (!old) {
    throw new ControllerError("NOT_FOUND", `vmId: cluster '${state.cluster.id}' has no member '${vmId}'`, {
      field: "vmId",
    });
  }
  const after = replaceMember(state, vmId, { nextEndpoint: next });
  if (
    next !== null &&
    state.members.some((m) => m.endpoint === next || (m.vmId !== vmId && m.nextEndpoint === next))
  ) {
    return planTransition(state, after, new Set(), options);
  }
  // Nothing here compiles a switch, but the rebind that follows compiles the member's own.
  deriveUnion(state, after, options);
  const vni = state.cluster.vni;
  const accept =
    next === null || next === old.nextEndpoint
      ? []
      : sortRules(acceptRules(vni, { ...old, endpoint: next }, options));
  const withdraw =
    old.nextEndpoint === null || old.nextEndpoint === next
      ? []
      : sortRules(acceptRules(vni, { ...old, endpoint: old.nextEndpoint }, options));
  const arp =
    old.endpoint === null || next === old.nextEndpoint
      ? []
      : next === null
        ? peerRules(vni, { ...old, endpoint: old.endpoint }, options).filter(
            (r) => ruleKind(r) === "egress-arp",
          )
        : [announcedArp(vni, old.vint0, old.endpoint, next)];
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const m of sortedByDpid(after.members)) {
    if (m.vmId === vmId) continue;
    const base = { dpid: m.dpid, vmId: m.vmId, endpoint: m.endpoint, fresh: false };
    if (accept.length > 0) phases[0].push({ ...base, add: accept, delete: [] });
    if (arp.length > 0) phases[1].push({ ...base, add: arp, delete: [] });
    if (withdraw.length > 0) phases[2].push({ ...base, add: [], delete: withdraw });
  }
  return toPlan(phases);
}

/**
 * Member `member` joins the cluster. The same plan as planTransition(state, state plus member,
 * {member}) (property-tested), built from what an add changes: the new member's switch gets its
 * whole rule set (prepare), every other switch gets the rules about the new member, accepting
 * first (prepare) and sending second (switch). Its whole set is the union of the rules about the
 * others, derived from the cached one (deriveUnion), so no switch but the new one is compiled.
 * A member that shares a vmId, vint0 or endpoint with another takes the general path, which
 * reports it as before.
 */
export function planAdd(state: ClusterState, member: Member, options: CompileOptions = {}): TransitionPlan {
  const after: ClusterState = { ...state, members: [...state.members, member] };
  const mine = [member.endpoint, member.nextEndpoint].filter((e) => e !== null);
  const clash = (m: Member) =>
    m.vmId === member.vmId ||
    m.vint0 === member.vint0 ||
    mine.includes(m.endpoint!) ||
    mine.includes(m.nextEndpoint!);
  if (
    (mine.length === 2 && mine[0] === mine[1]) ||
    state.members.some(clash) ||
    !deriveUnion(state, after, options)
  ) {
    return planTransition(state, after, new Set([member.vmId]), options);
  }
  const rules = sortRules(memberRules(state.cluster.vni, member, options));
  const accept = rules.filter((r) => !isEgressRule(r));
  const send = rules.filter(isEgressRule);
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const m of sortedByDpid(after.members)) {
    const base = { dpid: m.dpid, vmId: m.vmId, endpoint: m.endpoint };
    if (m === member) {
      phases[0].push({ ...base, fresh: true, add: compileSwitch(after, m.vmId, options), delete: [] });
      continue;
    }
    if (accept.length > 0) phases[0].push({ ...base, fresh: false, add: accept, delete: [] });
    if (send.length > 0) phases[1].push({ ...base, fresh: false, add: send, delete: [] });
  }
  return toPlan(phases);
}

/**
 * Member `vmId` leaves the cluster. The same plan as planTransition(state, state without it, {})
 * (property-tested): every other switch stops sending to it (switch), then stops accepting from it
 * (cleanup); its own switch gets nothing. No switch is compiled.
 */
export function planRemove(state: ClusterState, vmId: string, options: CompileOptions = {}): TransitionPlan {
  const gone = state.members.filter((m) => m.vmId === vmId);
  const after: ClusterState = { ...state, members: state.members.filter((m) => m.vmId !== vmId) };
  if (gone.length !== 1 || !deriveUnion(state, after, options)) {
    return planTransition(state, after, new Set(), options);
  }
  const rules = sortRules(memberRules(state.cluster.vni, gone[0]!, options));
  const stop = rules.filter(isEgressRule);
  const forget = rules.filter((r) => !isEgressRule(r));
  const phases: [SwitchBatch[], SwitchBatch[], SwitchBatch[]] = [[], [], []];
  for (const m of sortedByDpid(after.members)) {
    const base = { dpid: m.dpid, vmId: m.vmId, endpoint: m.endpoint, fresh: false };
    if (stop.length > 0) phases[1].push({ ...base, add: [], delete: stop });
    if (forget.length > 0) phases[2].push({ ...base, add: [], delete: forget });
  }
  return toPlan(phases);
}

/**
 * A new cluster: the switches of `vmIds` (members of `state`) get their whole rule set, the others
 * nothing (the service names the connected ones; the rest are reconciled when they connect). With
 * every member named, the same plan as planTransition(empty, state, every member) (property-tested);
 * naming fewer leaves out their batches and compiles no more than the named switches.
 */
export function planCreate(
  state: ClusterState,
  vmIds: ReadonlySet<string>,
  options: CompileOptions = {},
): TransitionPlan {
  const batches: SwitchBatch[] = sortedByDpid(state.members.filter((m) => vmIds.has(m.vmId))).map((m) => ({
    dpid: m.dpid,
    vmId: m.vmId,
    endpoint: m.endpoint,
    fresh: true,
    add: compileSwitch(state, m.vmId, options),
    delete: [],
  }));
  return toPlan([batches, [], []]);
}

function toPlan(phases: readonly [SwitchBatch[], SwitchBatch[], SwitchBatch[]]): TransitionPlan {
  return [
    { name: "prepare", batches: phases[0] },
    { name: "switch", batches: phases[1] },
    { name: "cleanup", batches: phases[2] },
  ];
}

function sortedByDpid(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => (a.dpid < b.dpid ? -1 : a.dpid > b.dpid ? 1 : 0));
}

export function isEmptyPlan(plan: TransitionPlan): boolean {
  return plan.every((p) => p.batches.length === 0);
}
