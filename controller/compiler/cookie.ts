import type { Rule } from "./rule.ts";

/**
 * Cookie layout: bits 63..56 the icsdn mark, 55..32 the cluster's VNI (the high 32 bits together
 * are the cluster tag), 31..24 the rule's kind, 23..0 zero. A reconciler selects all of ours with
 * OURS_COOKIE_MASK, one cluster's with CLUSTER_COOKIE_MASK, and never touches other rules by accident.
 */
export const COOKIE_MARK = 0x1cn;
export const OURS_COOKIE_MASK = 0xff00_0000_0000_0000n;
export const CLUSTER_COOKIE_MASK = 0xffff_ffff_0000_0000n;

/** `probe`: a peer's downtime probes go to the controller (see flow-compiler.ts, CompileOptions). */
export const RULE_KINDS = ["egress-ip", "egress-arp", "ingress", "table-miss", "probe"] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

const KIND_CODE: Record<RuleKind, number> = {
  "egress-ip": 1,
  "egress-arp": 2,
  ingress: 3,
  "table-miss": 4,
  probe: 5,
};

/** The cluster tag alone (kind bits zero): the cookie value to pair with CLUSTER_COOKIE_MASK. */
export function clusterCookie(vni: number): bigint {
  return (COOKIE_MARK << 56n) | (BigInt(vni) << 32n);
}

export function cookieFor(vni: number, kind: RuleKind): bigint {
  return clusterCookie(vni) | (BigInt(KIND_CODE[kind]) << 24n);
}

/** The cluster and kind a cookie says, or undefined for a cookie that is not ours. */
export function decodeCookie(cookie: bigint): { vni: number; kind: RuleKind } | undefined {
  if (cookie >> 56n !== COOKIE_MARK || (cookie & 0xff_ffffn) !== 0n) return undefined;
  const code = Number((cookie >> 24n) & 0xffn);
  const kind = RULE_KINDS.find((k) => KIND_CODE[k] === code);
  return kind && { vni: Number((cookie >> 32n) & 0xff_ffffn), kind };
}

export function ruleKind(rule: Rule): RuleKind | undefined {
  return decodeCookie(rule.cookie)?.kind;
}

/** Egress rules send to a peer (IPv4 and ARP); every other kind of ours accepts, drops or probes. */
export function isEgressRule(rule: Rule): boolean {
  const kind = ruleKind(rule);
  return kind === "egress-ip" || kind === "egress-arp";
}
