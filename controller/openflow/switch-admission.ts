import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { SwitchBatch } from "../compiler/transition-planner.ts";
import type { ControllerMetrics } from "../metrics/controller-metrics.ts";
import type { OfLog } from "./log.ts";
import { MemberBindings } from "./member-bindings.ts";
import { normalSerial } from "./pki.ts";
import type { ClusterReader } from "./reconciler.ts";
import type { SessionRegistry } from "./registry.ts";
import type { SwitchSession } from "./session.ts";
import {
  admitSwitch,
  type CertificateMember,
  certificateMember,
  identityRefused,
  type MemberRef,
  memberName,
  type RefusalReason,
} from "./switch-identity.ts";

/** A session's refusal: why (for the log), and the ERROR that tells the switch. */
export type Refusal = { reason: string; error: ReturnType<typeof identityRefused> };

/**
 * Which TLS session may be which member's switch: a session is admitted only as the member its
 * certificate names (switch-identity.ts), stays bound to it while its dpid could change hands
 * (member-bindings.ts), and ends when a CRL revokes its certificate. Every refusal is logged and
 * counted (icsdn_switch_identity_refused_total). Plain TCP sessions are not its business.
 */
export class SwitchAdmission {
  readonly #clusters: ClusterReader;
  readonly #registry: SessionRegistry;
  readonly #metrics: ControllerMetrics;
  readonly #log: OfLog;
  readonly #allowUnbound: boolean;
  readonly #bindings = new MemberBindings<SwitchSession>();
  /** TLS sessions by their certificate's serial (normalSerial), for a CRL that revokes one. */
  readonly #serials = new Map<SwitchSession, string>();

  constructor(deps: {
    clusters: ClusterReader;
    registry: SessionRegistry;
    metrics: ControllerMetrics;
    log: OfLog;
    allowUnbound: boolean;
  }) {
    this.#clusters = deps.clusters;
    this.#registry = deps.registry;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#allowUnbound = deps.allowUnbound;
  }

  /**
   * At accept, before the session owns the socket: the peer certificate's member and serial
   * (TLS only), and the session's admission check once its dpid is known.
   */
  atAccept(
    socket: Socket,
    transport: "tcp" | "tls",
  ): { admit: (s: SwitchSession) => Refusal | undefined; track: (s: SwitchSession) => void } {
    if (transport !== "tls") return { admit: () => undefined, track: () => {} };
    const peer = (socket as TLSSocket).getPeerX509Certificate();
    const certificate = certificateMember(peer?.subjectAltName);
    return {
      admit: (s) => this.#admit(s, certificate),
      track: (s) => {
        if (peer) this.#serials.set(s, normalSerial(peer.serialNumber));
      },
    };
  }

  /** The session ended. */
  closed(s: SwitchSession): void {
    this.#serials.delete(s);
    if (s.dpid !== undefined) this.#bindings.unbind(s.dpid, s);
  }

  /**
   * Before any byte of a batch leaves: a session bound to another member than the batch's (its
   * dpid changed hands since it was admitted) is refused, not served.
   */
  refuseStale(batches: readonly SwitchBatch[]): void {
    for (const b of batches) {
      const stale = this.#bindings.boundElsewhere(b.dpid, b.vmId);
      if (!stale) continue;
      const dpidMember = { clusterId: stale.member.clusterId, vmId: b.vmId };
      for (const s of stale.sessions) this.#refuseBound(s, stale.member, dpidMember);
    }
  }

  /** A new CRL is in force: sessions whose certificate it revokes end now, not at their next connection. */
  dropRevoked(revoked: ReadonlySet<string>): void {
    for (const [s, serial] of this.#serials) {
      if (!revoked.has(serial)) continue;
      this.#metrics.switchIdentityRefusedTotal.inc({ reason: "revoked" });
      this.#log.warn("switch disconnected: its certificate was revoked", { switch: s.label, serial });
      s.close("certificate revoked");
    }
  }

  /** Whether a TLS session may be the switch of the dpid it announced; a refusal is logged and counted. */
  #admit(s: SwitchSession, certificate: CertificateMember): Refusal | undefined {
    const dpid = s.dpid!;
    let dpidMember: MemberRef | undefined;
    try {
      dpidMember = this.#clusters.memberByDpid(dpid);
    } catch (err) {
      // Fail closed: a switch we cannot place is not admitted (it retries).
      this.#log.error("switch not admitted: the store failed", {
        switch: s.label,
        error: (err as Error).message,
      });
      return { reason: "store failed during admission", error: identityRefused(0, "no-member") };
    }
    const verdict = admitSwitch({ certificate, dpidMember, allowUnbound: this.#allowUnbound });
    if (verdict.admit) {
      const stale = verdict.member && this.#bindings.bind(dpid, verdict.member, s);
      if (stale) for (const old of stale.sessions) this.#refuseBound(old, stale.member, verdict.member!);
      return undefined;
    }
    this.#refusalLogged(s, verdict.reason, verdict.message, {
      certificateMember: certificate.kind === "member" ? memberName(certificate.member) : null,
      dpidMember: dpidMember ? memberName(dpidMember) : null,
    });
    return { reason: `refused: ${verdict.message}`, error: identityRefused(0, verdict.reason) };
  }

  /** A ready session whose dpid now belongs to another member than its certificate's. */
  #refuseBound(s: SwitchSession, bound: MemberRef, dpidMember: MemberRef): void {
    const message = `the datapath id is now ${memberName(dpidMember)}'s, the certificate ${memberName(bound)}'s`;
    this.#refusalLogged(s, "other-member", message, {
      certificateMember: memberName(bound),
      dpidMember: memberName(dpidMember),
    });
    this.#registry.remove(s);
    s.refuse(`refused: ${message}`, identityRefused(0, "other-member"));
  }

  #refusalLogged(
    s: SwitchSession,
    reason: RefusalReason,
    message: string,
    members: { certificateMember: string | null; dpidMember: string | null },
  ): void {
    this.#metrics.switchIdentityRefusedTotal.inc({ reason });
    this.#log.warn(`switch refused: ${message}`, { switch: s.label, reason, ...members });
  }
}
