import { SLUG_PATTERN } from "../../contract/controller-api/ids.ts";
import { type ErrorMsg, OFPET, OFPHFC } from "../../proto/index.ts";

/**
 * Which member a switch's TLS certificate belongs to, and whether a session may be the switch of
 * the datapath id it announced. `icsdn controller pki issue` writes the member into the
 * certificate as the URI SAN `urn:icsdn:member:CLUSTER/VM`; nothing else in a certificate counts.
 */
export const MEMBER_URI_PREFIX = "urn:icsdn:member:";

/** A member by its store key. */
export interface MemberRef {
  readonly clusterId: string;
  readonly vmId: string;
}

export function memberUri(m: MemberRef): string {
  return `${MEMBER_URI_PREFIX}${m.clusterId}/${m.vmId}`;
}

export function memberName(m: MemberRef): string {
  return `${m.clusterId}/${m.vmId}`;
}

/** What a certificate says: one member, none, or something we refuse to guess from. */
export type CertificateMember =
  | { readonly kind: "member"; readonly member: MemberRef }
  | { readonly kind: "none" }
  | { readonly kind: "invalid"; readonly why: string };

// SLUG_PATTERN without its anchors; its own group is captured too, so the parts are named.
const SLUG = SLUG_PATTERN.slice(1, -1);
const MEMBER_URI = new RegExp(`^${MEMBER_URI_PREFIX}(?<cluster>${SLUG})/(?<vm>${SLUG})$`);

/**
 * The member named by a certificate's subjectAltName, as node's X509Certificate.subjectAltName
 * prints it ("URI:urn:icsdn:member:web/vm1, DNS:x"; values with a comma or quote come JSON-quoted,
 * which no member URI needs). Two member URIs, or one that is malformed, make the certificate
 * invalid rather than letting either win.
 */
export function certificateMember(subjectAltName: string | undefined): CertificateMember {
  const uris = (subjectAltName ?? "")
    .split(", ")
    .filter((e) => e.startsWith(`URI:${MEMBER_URI_PREFIX}`) || e.startsWith(`URI:"${MEMBER_URI_PREFIX}`))
    .map((e) => e.slice(4));
  if (uris.length === 0) return { kind: "none" };
  if (uris.length > 1) return { kind: "invalid", why: `names ${uris.length} members` };
  const m = MEMBER_URI.exec(uris[0]!);
  if (!m) return { kind: "invalid", why: `malformed member URI ${JSON.stringify(uris[0]!.slice(0, 140))}` };
  return { kind: "member", member: { clusterId: m.groups!.cluster!, vmId: m.groups!.vm! } };
}

export type RefusalReason = "unbound" | "invalid" | "no-member" | "other-member";

/** Metric label of icsdn_switch_identity_refused_total: a refusal, or a session ended by a new CRL. */
export type IdentityMetricReason = RefusalReason | "revoked";

export type Admission =
  | { readonly admit: true; readonly member: MemberRef | null }
  | { readonly admit: false; readonly reason: RefusalReason; readonly message: string };

/**
 * Whether a TLS session may be the switch of the dpid it announced, given the member the store
 * says owns that dpid (undefined: none). A certificate must name exactly that member. A dpid no
 * member owns yet is refused too: admitted, its session would be handed the rules of whichever
 * member is later created with that dpid. Certificates naming no member pass only when the
 * operator allowed them, and then for any dpid (the behaviour before certificates named members).
 */
export function admitSwitch(input: {
  readonly certificate: CertificateMember;
  readonly dpidMember: MemberRef | undefined;
  readonly allowUnbound: boolean;
}): Admission {
  const { certificate: cert, dpidMember } = input;
  if (cert.kind === "invalid") {
    return { admit: false, reason: "invalid", message: `the certificate ${cert.why}` };
  }
  if (cert.kind === "none") {
    if (input.allowUnbound) return { admit: true, member: null };
    return { admit: false, reason: "unbound", message: "the certificate names no member" };
  }
  if (dpidMember === undefined) {
    return {
      admit: false,
      reason: "no-member",
      message: `no member has this datapath id (the certificate is ${memberName(cert.member)}'s)`,
    };
  }
  if (dpidMember.clusterId !== cert.member.clusterId || dpidMember.vmId !== cert.member.vmId) {
    return {
      admit: false,
      reason: "other-member",
      message: `the datapath id is ${memberName(dpidMember)}'s, the certificate ${memberName(cert.member)}'s`,
    };
  }
  return { admit: true, member: cert.member };
}

/**
 * What a refused switch is told: HELLO_FAILED/EPERM ("permissions error"), with a reason that
 * names neither member (the peer learns nothing about whose dpid it tried).
 */
export function identityRefused(xid: number, reason: RefusalReason): ErrorMsg {
  const text =
    reason === "unbound" || reason === "invalid"
      ? "certificate names no member of this controller"
      : "certificate does not name the member of this datapath id";
  return {
    type: "ERROR",
    xid,
    errorType: OFPET.HELLO_FAILED,
    code: OFPHFC.EPERM,
    data: new TextEncoder().encode(text),
  };
}
