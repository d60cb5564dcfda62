import { type ErrorMsg, OFP_VERSION, OFPET, OFPHFC } from "../../proto/index.ts";
import type { Hello } from "../../proto/messages/hello.ts";

/** Our HELLO: OpenFlow 1.3, with a version bitmap that says so. */
export function ourHello(xid: number): Hello {
  return { type: "HELLO", xid, elements: [{ kind: "VERSION_BITMAP", versions: [OFP_VERSION] }] };
}

export type Negotiation =
  | { readonly ok: true }
  | { readonly ok: false; readonly peerVersions: readonly number[]; readonly reason: string };

/**
 * Version negotiation (OpenFlow 1.3.5, 6.3.1) when we speak only 1.3: with a bitmap in the peer's
 * HELLO, 1.3 must be in it; without one, the negotiated version is the lower of the two header
 * versions, so the peer's must be at least 1.3.
 */
export function negotiate(peer: Hello): Negotiation {
  const bitmap = peer.elements.find((e) => e.kind === "VERSION_BITMAP");
  const headerVersion = peer.version ?? OFP_VERSION;
  if (bitmap && bitmap.kind === "VERSION_BITMAP") {
    if (bitmap.versions.includes(OFP_VERSION)) return { ok: true };
    return {
      ok: false,
      peerVersions: bitmap.versions,
      reason: `no common version: we speak 0x04 (1.3), the peer ${versionList(bitmap.versions)}`,
    };
  }
  if (headerVersion >= OFP_VERSION) return { ok: true };
  return {
    ok: false,
    peerVersions: [headerVersion],
    reason: `no common version: we speak 0x04 (1.3), the peer at most 0x0${headerVersion.toString(16)}`,
  };
}

function versionList(versions: readonly number[]): string {
  return versions.length === 0
    ? "none"
    : versions.map((v) => `0x${v.toString(16).padStart(2, "0")}`).join(", ");
}

/**
 * HELLO_FAILED/INCOMPATIBLE with the reason as ASCII text (as the spec asks), in the peer's own
 * version when it is older than ours so that it can read it.
 */
export function helloFailed(peer: Hello, reason: string): ErrorMsg {
  const version = Math.min(peer.version ?? OFP_VERSION, OFP_VERSION);
  return {
    type: "ERROR",
    xid: peer.xid,
    ...(version !== OFP_VERSION && { version }),
    errorType: OFPET.HELLO_FAILED,
    code: OFPHFC.INCOMPATIBLE,
    data: new TextEncoder().encode(reason.slice(0, 200)),
  };
}
