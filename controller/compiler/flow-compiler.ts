import { ENC0_PORT, type Ipv4, VINT0_PORT } from "../../contract/dataplane/index.ts";
import { type Action, OFPP } from "../../proto/index.ts";
import { type ClusterState, findMember } from "../model/cluster-state.ts";
import type { Member } from "../model/member.ts";
import { cookieFor, isEgressRule, ruleKind } from "./cookie.ts";
import {
  assertPipeline,
  checkRules,
  ETH_TYPE_ARP,
  ETH_TYPE_IPV4,
  IP_PROTO_UDP,
  PRIORITY_FORWARD,
  PRIORITY_PROBE,
  PRIORITY_TABLE_MISS,
  PROBE_MAX_LEN,
} from "./pipeline.ts";
import { compareRules, freezeRule, type Rule, sortRules } from "./rule.ts";

/** The rules one member's switch should hold. */
export interface SwitchRules {
  readonly dpid: bigint;
  readonly vmId: string;
  readonly rules: readonly Rule[];
}

/**
 * What the compiler adds beyond forwarding. The controller applies them in one place, its
 * RulePlanner (rule-planner.ts), which plans changes, reconciles and counts desired rules alike.
 */
export interface CompileOptions {
  /**
   * UDP port (source and destination) of the controller's downtime probes. When set, each switch
   * gets one probe rule per reachable peer: UDP between probe ports from that peer's tunnel goes
   * to the controller instead of vint0. Unset: no probe rules (and no controller probes).
   */
  readonly probePort?: number | undefined;
}

/** A member whose endpoint is known: the only kind a switch can tunnel to or accept from. */
type ReachablePeer = Member & { readonly endpoint: Ipv4 };

/**
 * FlowCompiler: cluster state -> the exact rule set of one member's switch. Pure and
 * deterministic: the result depends on the set of members, not their order, and is sorted.
 *
 * - egress, per peer with a known endpoint: vint0 traffic for the peer's cluster IP (IPv4 and ARP)
 *   gets the peer's endpoint as tunnel destination and the cluster VNI as key, out enc0;
 * - ingress, per peer with a known endpoint: enc0 traffic with the VNI from that endpoint goes to vint0;
 * - probe (with `options.probePort`), per peer with a known endpoint: the controller's probes from
 *   that endpoint go to the controller (a higher priority than ingress);
 * - ingress and probe also from a peer's announced next endpoint (Member.nextEndpoint), so that
 *   when it moves there, its rebind has only egress left to change;
 * - everything else hits an explicit table-miss drop (fail_mode=secure would drop it anyway; this one counts).
 *
 * The member's own endpoint appears nowhere in its own rules, so a moved VM's new instance needs
 * the same rules as its old one.
 *
 * The rules are frozen and shared: every switch of a cluster gets the same objects for a given peer
 * (see peerRules), so keys and encodings derived from them are computed once per cluster, not per switch.
 */
export function compileSwitch(state: ClusterState, vmId: string, options: CompileOptions = {}): Rule[] {
  const self = findMember(state, vmId);
  if (!self) throw new RangeError(`compileSwitch: cluster '${state.cluster.id}' has no member '${vmId}'`);
  const union = clusterUnion(state, options);
  if (union) return withoutOwn(union, self);
  // The union breaks the pipeline (two members share an endpoint): check this switch on its own,
  // so the error names it, as it always did.
  const vni = state.cluster.vni;
  const rules: Rule[] = [];
  for (const peer of state.members) {
    if (peer.vmId === self.vmId) continue;
    rules.push(...memberRules(vni, peer, options));
  }
  rules.push(tableMissRule(vni));
  const sorted = sortRules(rules);
  assertPipeline(sorted, `switch of ${state.cluster.id}/${vmId}`);
  return sorted;
}

/**
 * compileSwitch(state, vmId, options).length without building the list: the union's size less the
 * member's own rules (GET /v1/switches counts every member's: 5,000 lists of 20,000 rules).
 */
export function countSwitch(state: ClusterState, vmId: string, options: CompileOptions = {}): number {
  const self = findMember(state, vmId);
  const union = self && clusterUnion(state, options);
  if (!self || !union) return compileSwitch(state, vmId, options).length;
  return union.sorted.length - (union.own.get(memberKey(self))?.size ?? 0);
}

/** Every member's switch rules, ordered by dpid. */
export function compileCluster(state: ClusterState, options: CompileOptions = {}): SwitchRules[] {
  return [...state.members]
    .sort((a, b) => (a.dpid < b.dpid ? -1 : a.dpid > b.dpid ? 1 : 0))
    .map((m) => ({ dpid: m.dpid, vmId: m.vmId, rules: compileSwitch(state, m.vmId, options) }));
}

/**
 * Every switch of a cluster holds the same rules, less those about itself: the sorted union of
 * every reachable member's peer rules (and the table-miss, last by priority) is computed and
 * checked against the pipeline once per cluster state, and each switch's list is that union
 * without its own few rules. Equal to sorting and checking each switch's list on its own (a
 * subset of a valid set with its table-miss is valid), in O(rules) per switch instead of a sort.
 * Undefined when the union breaks the pipeline (the caller then checks switch by switch).
 */
function clusterUnion(state: ClusterState, options: CompileOptions): Union | undefined {
  const key = fingerprint(state, options);
  const hit = unionCache.get(key);
  if (hit !== undefined) return hit === "invalid" ? undefined : hit;
  const vni = state.cluster.vni;
  const rules: Rule[] = [];
  const own = new Map<string, ReadonlySet<Rule>>();
  for (const m of state.members) {
    const r = memberRules(vni, m, options);
    if (r.length === 0) continue;
    own.set(memberKey(m), new Set(r));
    rules.push(...r);
  }
  rules.push(tableMissRule(vni));
  const sorted = sortRules(rules);
  const union = checkRules(sorted).length === 0 ? { sorted, own } : undefined;
  remember(key, union ?? "invalid");
  return union;
}

/** The rules of every switch together, and which of them are about each member (by memberKey). */
interface Union {
  readonly sorted: readonly Rule[];
  readonly own: ReadonlyMap<string, ReadonlySet<Rule>>;
}

function memberKey(m: Member): string {
  return `${m.vint0}>${m.endpoint ?? ""}>${m.nextEndpoint ?? ""}`;
}

/**
 * Every rule other switches hold about member `m`: its peer rules and, with an announced next
 * endpoint, acceptance of it and ARP to both endpoints (announcedArp).
 */
export function memberRules(vni: number, m: Member, options: CompileOptions = {}): readonly Rule[] {
  if (m.nextEndpoint === null) return m.endpoint === null ? [] : peerRules(vni, m as ReachablePeer, options);
  const accept = acceptRules(vni, { ...m, endpoint: m.nextEndpoint }, options);
  if (m.endpoint === null) return accept;
  const current = peerRules(vni, m as ReachablePeer, options);
  const arp = announcedArp(vni, m.vint0, m.endpoint, m.nextEndpoint);
  return [...current.map((r) => (ruleKind(r) === "egress-arp" ? arp : r)), ...accept];
}

/**
 * Caches the union of `after` derived from the union of `before` (computed if need be), when the
 * two differ in a few members (an add, a removal, a move): the changed members' rules are cut out
 * and put in at their places (binary search), instead of sorting and checking the whole union
 * (0.1 to 0.2 s at 5,000 members, warm). The same union clusterUnion(after) would compute: the kept
 * rules are a valid subset, and an added member's rules are compiler rules whose identities name
 * its vint0 (egress) and the endpoints it is accepted from (ingress, probe), so they are new when
 * no other member has that vint0 or those endpoints. True when `after`'s union is valid and
 * cached; false when `before`'s is not valid or an added member conflicts (nothing is cached then:
 * compileSwitch checks `after` the long way and names the switch at fault).
 */
export function deriveUnion(
  before: ClusterState,
  after: ClusterState,
  options: CompileOptions = {},
): boolean {
  const key = fingerprint(after, options);
  const known = unionCache.get(key);
  if (known !== undefined) return known !== "invalid";
  const from = before.cluster.vni === after.cluster.vni ? clusterUnion(before, options) : undefined;
  if (!from) return false;
  // Most member objects are shared by the two states; only the others can have changed.
  const stay = new Set(after.members);
  const was = new Set(before.members);
  const gone = new Map(before.members.filter((m) => !stay.has(m)).map((m) => [memberKey(m), m]));
  const come = after.members.filter((m) => !was.has(m) && !gone.delete(memberKey(m)));
  if (gone.size + come.length > DERIVE_LIMIT) return clusterUnion(after, options) !== undefined;
  const vni = after.cluster.vni;
  const own = new Map(from.own);
  const cut: Rule[] = [];
  for (const k of gone.keys()) {
    for (const r of own.get(k) ?? []) cut.push(r);
    own.delete(k);
  }
  const put: Rule[] = [];
  for (const m of come) {
    const rules = memberRules(vni, m, options);
    if (rules.length === 0) continue;
    if (conflicts(m, after.members)) return false;
    own.set(memberKey(m), new Set(rules));
    put.push(...rules);
  }
  if (put.length > 0 && checkRules([...put, tableMissRule(vni)]).length > 0) return false;
  const sorted = patchSorted(from.sorted, cut, put);
  if (!sorted) return clusterUnion(after, options) !== undefined;
  remember(key, { sorted, own });
  return true;
}

/** Members changed beyond which deriveUnion computes the union whole (cheaper than patching). */
const DERIVE_LIMIT = 64;

/** Whether another member of `members` has m's vint0, or uses or announced an endpoint m does. */
function conflicts(m: Member, members: readonly Member[]): boolean {
  const accepted = [m.endpoint, m.nextEndpoint].filter((e) => e !== null);
  if (accepted.length === 2 && accepted[0] === accepted[1]) return true;
  return members.some(
    (o) =>
      o !== m &&
      (o.vint0 === m.vint0 ||
        (o.endpoint !== null && accepted.includes(o.endpoint)) ||
        (o.nextEndpoint !== null && accepted.includes(o.nextEndpoint))),
  );
}

/**
 * `sorted` (by compareRules, identities unique) without `cut` and with `put` at their places;
 * undefined if a rule to cut is not in it.
 */
function patchSorted(
  sorted: readonly Rule[],
  cut: readonly Rule[],
  put: readonly Rule[],
): readonly Rule[] | undefined {
  if (cut.length === 0 && put.length === 0) return sorted;
  const edits: { at: number; rule?: Rule }[] = [];
  for (const r of cut) {
    const at = lowerBound(sorted, r);
    if (sorted[at] !== r) return undefined;
    edits.push({ at });
  }
  for (const rule of put) edits.push({ at: lowerBound(sorted, rule), rule });
  // At one place, insertions (in rule order) before the cut of the rule there.
  edits.sort((a, b) =>
    a.at !== b.at ? a.at - b.at : a.rule && b.rule ? compareRules(a.rule, b.rule) : a.rule ? -1 : 1,
  );
  const chunks: (readonly Rule[])[] = [];
  let next = 0;
  for (const e of edits) {
    if (e.at > next) chunks.push(sorted.slice(next, e.at));
    next = Math.max(next, e.at);
    if (e.rule) chunks.push([e.rule]);
    else next = e.at + 1;
  }
  chunks.push(sorted.slice(next));
  return ([] as Rule[]).concat(...chunks);
}

/** The first index of `sorted` whose rule does not come before `rule`. */
function lowerBound(sorted: readonly Rule[], rule: Rule): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareRules(sorted[mid]!, rule) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Drops every cached rule of VNI `vni` (a deleted cluster): its unions, peer and ARP rules and
 * table-miss, so a deleted 5,000-member cluster's ~20,000 rules are not kept alive by the caches.
 */
export function forgetVni(vni: number): void {
  const prefix = `${vni}|`;
  for (const cache of [unionCache, peerCache, arpCache] as const) {
    for (const key of cache.keys()) if (key.startsWith(prefix)) cache.delete(key);
  }
  missCache.delete(vni);
}

function remember(key: string, union: Union | "invalid"): void {
  unionCache.set(key, union);
  if (unionCache.size > UNION_CACHE_SIZE) unionCache.delete(unionCache.keys().next().value!);
}

function withoutOwn(union: Union, self: Member): Rule[] {
  const own = union.own.get(memberKey(self));
  return own ? union.sorted.filter((r) => !own.has(r)) : [...union.sorted];
}

/** What the union depends on: VNI, probe port, and each member's vint0 and endpoints (in any order). */
function fingerprint(state: ClusterState, options: CompileOptions): string {
  let members = memberKeys.get(state.members);
  if (members === undefined) {
    members = state.members.map(memberKey).sort().join(",");
    memberKeys.set(state.members, members);
  }
  return `${state.cluster.vni}|${options.probePort ?? ""}|${members}`;
}

/**
 * Sorted member keys per member list: compileCluster calls compileSwitch once per member, each
 * with the same list (sorting 1,000 keys 1,000 times was most of a 1,000-member compile).
 */
const memberKeys = new WeakMap<readonly Member[], string>();

/** A few recent cluster states: a reconcile storm or a rebind's plan compiles one state many times. */
const UNION_CACHE_SIZE = 8;
const unionCache = new Map<string, Union | "invalid">();

/**
 * The rules every other switch holds for one reachable peer, unsorted: egress (IPv4, ARP), ingress
 * and, with a probe port, probe. One frozen array per (VNI, peer vint0, endpoint, probe port),
 * remembered for the last PEER_CACHE_SIZE peers.
 */
export function peerRules(vni: number, peer: ReachablePeer, options: CompileOptions = {}): readonly Rule[] {
  const key = `${vni}|${peer.vint0}|${peer.endpoint}|${options.probePort ?? ""}`;
  const hit = peerCache.get(key);
  if (hit) {
    // Refresh its place in the insertion order, so the oldest entry is the least recently used.
    peerCache.delete(key);
    peerCache.set(key, hit);
    return hit;
  }
  const rules = [...egressRules(vni, peer), ingressRule(vni, peer)];
  if (options.probePort !== undefined) rules.push(probeRule(vni, peer, options.probePort));
  const frozen = Object.freeze(rules.map(freezeRule));
  peerCache.set(key, frozen);
  if (peerCache.size > PEER_CACHE_SIZE) peerCache.delete(peerCache.keys().next().value!);
  return frozen;
}

/**
 * The part of peerRules that accepts tunnel packets from the peer's endpoint (ingress, probe), not
 * what sends to it: the same frozen rule objects.
 */
export function acceptRules(vni: number, peer: ReachablePeer, options: CompileOptions = {}): readonly Rule[] {
  return peerRules(vni, peer, options).filter((r) => !isEgressRule(r));
}

/** Peers whose rules stay shared: far above one large cluster, small in memory (a few KB each). */
const PEER_CACHE_SIZE = 16_384;
const peerCache = new Map<string, readonly Rule[]>();
const missCache = new Map<number, Rule>();

function toPeer(vni: number, peer: ReachablePeer): Action[] {
  return [
    { kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: peer.endpoint } },
    { kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value: BigInt(vni) } },
    { kind: "OUTPUT", port: ENC0_PORT, maxLen: 0 },
  ];
}

/**
 * The egress ARP rule toward a member that announced its next endpoint: every ARP packet for it
 * goes to both its current and its next endpoint. Its new instance (same vint0 address and MAC)
 * then learns its peers' MACs before its rebind, so it can send to them as soon as they accept it;
 * the old instance still gets every ARP it needs. IPv4 keeps going to the current endpoint only.
 */
export function announcedArp(vni: number, vint0: Ipv4, endpoint: Ipv4, next: Ipv4): Rule {
  const key = `${vni}|${vint0}|${endpoint}|${next}`;
  let rule = arpCache.get(key);
  if (!rule) {
    rule = freezeRule({
      ...egressRules(vni, { vint0, endpoint } as ReachablePeer)[1]!,
      instructions: [
        {
          kind: "APPLY_ACTIONS",
          actions: [
            ...toPeer(vni, { vint0, endpoint } as ReachablePeer),
            { kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: next } },
            { kind: "OUTPUT", port: ENC0_PORT, maxLen: 0 },
          ],
        },
      ],
    });
    arpCache.set(key, rule);
    if (arpCache.size > PEER_CACHE_SIZE) arpCache.delete(arpCache.keys().next().value!);
  }
  return rule;
}

const arpCache = new Map<string, Rule>();

function egressRules(vni: number, peer: ReachablePeer): Rule[] {
  return [
    {
      tableId: 0,
      priority: PRIORITY_FORWARD,
      cookie: cookieFor(vni, "egress-ip"),
      match: [
        { field: "IN_PORT", value: VINT0_PORT },
        { field: "ETH_TYPE", value: ETH_TYPE_IPV4 },
        { field: "IPV4_DST", value: peer.vint0 },
      ],
      instructions: [{ kind: "APPLY_ACTIONS", actions: toPeer(vni, peer) }],
    },
    {
      tableId: 0,
      priority: PRIORITY_FORWARD,
      cookie: cookieFor(vni, "egress-arp"),
      match: [
        { field: "IN_PORT", value: VINT0_PORT },
        { field: "ETH_TYPE", value: ETH_TYPE_ARP },
        { field: "ARP_TPA", value: peer.vint0 },
      ],
      instructions: [{ kind: "APPLY_ACTIONS", actions: toPeer(vni, peer) }],
    },
  ];
}

function ingressRule(vni: number, peer: ReachablePeer): Rule {
  return {
    tableId: 0,
    priority: PRIORITY_FORWARD,
    cookie: cookieFor(vni, "ingress"),
    match: [
      { field: "IN_PORT", value: ENC0_PORT },
      { field: "TUNNEL_ID", value: BigInt(vni) },
      { field: "TUN_IPV4_SRC", value: peer.endpoint },
    ],
    instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: VINT0_PORT, maxLen: 0 }] }],
  };
}

/**
 * The controller's probes from this peer: like ingress (same VNI, same source filter, so no one
 * outside the cluster can send packets to the controller through it), narrowed to UDP between
 * probe ports. Both ports must match, so an application's UDP traffic is caught only if it uses
 * the probe port on both ends.
 */
function probeRule(vni: number, peer: ReachablePeer, port: number): Rule {
  return {
    tableId: 0,
    priority: PRIORITY_PROBE,
    cookie: cookieFor(vni, "probe"),
    match: [
      { field: "IN_PORT", value: ENC0_PORT },
      { field: "TUNNEL_ID", value: BigInt(vni) },
      { field: "TUN_IPV4_SRC", value: peer.endpoint },
      { field: "ETH_TYPE", value: ETH_TYPE_IPV4 },
      { field: "IP_PROTO", value: IP_PROTO_UDP },
      { field: "UDP_SRC", value: port },
      { field: "UDP_DST", value: port },
    ],
    instructions: [
      { kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: OFPP.CONTROLLER, maxLen: PROBE_MAX_LEN }] },
    ],
  };
}

function tableMissRule(vni: number): Rule {
  let rule = missCache.get(vni);
  if (!rule) {
    rule = freezeRule({
      tableId: 0,
      priority: PRIORITY_TABLE_MISS,
      cookie: cookieFor(vni, "table-miss"),
      match: [],
      instructions: [],
    });
    missCache.set(vni, rule);
    if (missCache.size > PEER_CACHE_SIZE) missCache.delete(missCache.keys().next().value!);
  }
  return rule;
}
