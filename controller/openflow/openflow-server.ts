import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Ipv4 } from "../../contract/dataplane/index.ts";
import type { ListenAddress } from "../../contract/http/serve-config.ts";
import type { SwitchBatch } from "../compiler/transition-planner.ts";
import { OpenFlowFabric } from "../fabric/openflow-fabric.ts";
import type { BatchOutcome, RebindIntent, RebindWatch, SwitchStatus } from "../fabric/switch-fabric.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { FabricComponent, FabricParts } from "../server.ts";
import type { CloseReason } from "./channel.ts";
import { CrlWatch } from "./crl-watch.ts";
import { HandshakeFailureLog } from "./handshake-failures.ts";
import { OpenFlowListener, type TlsMaterial } from "./listener.ts";
import { type OfLog, silentLog } from "./log.ts";
import { MemberBindings } from "./member-bindings.ts";
import { normalSerial } from "./pki.ts";
import { DEFAULT_PROBE_SETTINGS, type ProbeSettings, RebindProbes } from "./rebind-probes.ts";
import { type ReconcileResult, Reconciler } from "./reconciler.ts";
import { SessionRegistry } from "./registry.ts";
import { DEFAULT_SESSION_CONFIG, type SessionConfig, SwitchSession } from "./session.ts";
import {
  admitSwitch,
  type CertificateMember,
  certificateMember,
  identityRefused,
  type MemberRef,
  memberName,
  type RefusalReason,
} from "./switch-identity.ts";

export interface OpenFlowOptions {
  /** Plain TCP listener (OVS target `tcp:HOST:PORT`). */
  readonly tcp?: ListenAddress;
  /**
   * Mutual-TLS listener (OVS target `ssl:HOST:PORT`). A switch is admitted only as the member its
   * certificate names; `allowUnboundCertificates` admits certificates naming no member, for any dpid.
   */
  readonly tls?: ListenAddress & {
    readonly material: TlsMaterial;
    readonly allowUnboundCertificates?: boolean;
  };
  /** Connections that fail their handshake are logged at most once per this (default 60 s). */
  readonly handshakeFailureLogIntervalMs?: number;
  readonly session?: Partial<SessionConfig>;
  /** Probe timing and priming; the probe port itself comes from the compiler options. */
  readonly probes?: Partial<Omit<ProbeSettings, "probePort">>;
  /** Connections at once, per listener (handshaking ones included). */
  readonly maxConnections?: number;
  readonly log?: OfLog;
  /** For tests and tools: told about every reconcile and every closed session. */
  readonly observer?: {
    reconciled?(s: SwitchSession, result: ReconcileResult | Error): void;
    closed?(s: SwitchSession, reason: CloseReason): void;
  };
}

/** Reconcile attempts after a failure, with 0.5 s, 1 s, 2 s... between them. */
const RECONCILE_RETRIES = 5;

/** `fabric` option of startController: the OpenFlow server. */
export function openFlowFabric(options: OpenFlowOptions): (parts: FabricParts) => OpenFlowServer {
  return (parts) => new OpenFlowServer(parts, options);
}

/**
 * The controller's switch side: listeners (TCP, TLS), one SwitchSession per connection, the
 * session registry, the fabric the cluster service drives, the reconciler run on every switch
 * that connects (and after a failed batch), and the rebind probes fed by PACKET_IN.
 */
export class OpenFlowServer implements FabricComponent {
  readonly registry = new SessionRegistry();
  readonly probes: RebindProbes;
  readonly #listeners: OpenFlowListener[] = [];
  readonly #sessions = new Set<SwitchSession>();
  readonly #fabric: OpenFlowFabric;
  readonly #reconciler: Reconciler;
  readonly #parts: FabricParts;
  readonly #config: SessionConfig;
  readonly #log: OfLog;
  readonly #observer: OpenFlowOptions["observer"];
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();
  readonly #handshakeFailures: HandshakeFailureLog;
  readonly #bindings = new MemberBindings<SwitchSession>();
  /** TLS sessions by their certificate's serial (normalSerial), for a CRL that revokes one. */
  readonly #serials = new Map<SwitchSession, string>();
  readonly #allowUnbound: boolean;
  readonly #crlWatch: CrlWatch | undefined;
  #closing = false;

  constructor(parts: FabricParts, options: OpenFlowOptions) {
    this.#parts = parts;
    this.#config = { ...DEFAULT_SESSION_CONFIG, ...options.session };
    this.#log = options.log ?? silentLog;
    this.#observer = options.observer;
    const pick = (dpid: bigint, endpoint: string | null) => this.registry.pick(dpid, endpoint);
    this.probes = new RebindProbes({
      settings: { ...DEFAULT_PROBE_SETTINGS, ...options.probes, probePort: parts.compile.probePort },
      pick,
      log: this.#log,
    });
    this.#reconciler = new Reconciler({ ...parts, log: this.#log });
    this.#fabric = new OpenFlowFabric({
      registry: this.registry,
      probes: this.probes,
      reconcileLater: (s) => this.#reconcile(s, 0),
      log: this.#log,
    });
    this.#handshakeFailures = new HandshakeFailureLog({
      log: this.#log,
      intervalMs: options.handshakeFailureLogIntervalMs ?? 60_000,
      count: (transport) => parts.metrics.handshakeFailuresTotal.inc({ transport }),
    });
    this.#allowUnbound = options.tls?.allowUnboundCertificates ?? false;
    const listenerOptions = {
      maxConnections: options.maxConnections ?? 10_000,
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      log: this.#log,
      failed: this.#handshakeFailures.note.bind(this.#handshakeFailures),
    };
    const accept = (socket: Socket, transport: "tcp" | "tls") => this.#accept(socket, transport);
    if (options.tcp)
      this.#listeners.push(new OpenFlowListener(options.tcp, undefined, listenerOptions, accept));
    if (options.tls) {
      const tls = new OpenFlowListener(options.tls, options.tls.material, listenerOptions, accept);
      this.#listeners.push(tls);
      const crlFile = options.tls.material.crlFile;
      if (crlFile !== undefined) {
        this.#crlWatch = new CrlWatch(
          crlFile,
          (crl, revoked) => {
            tls.setCrl(crl);
            this.#dropRevoked(revoked);
          },
          this.#log,
        );
      }
    }
  }

  async start(): Promise<void> {
    try {
      for (const l of this.#listeners) await l.listen();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#crlWatch?.start();
    for (const l of this.#listeners) {
      const at = l.address();
      this.#log.info("listening for switches", { transport: l.transport, host: at.host, port: at.port });
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    for (const t of this.#retries) clearTimeout(t);
    this.#retries.clear();
    this.#fabric.close();
    this.#crlWatch?.close();
    this.#handshakeFailures.close();
    const closing = this.#listeners.map((l) => l.close());
    for (const s of [...this.#sessions]) s.close("controller shutting down");
    await Promise.all(closing);
  }

  ready(): boolean {
    return this.#listeners.every((l) => l.listening);
  }

  /** Where each listener listens (the real port when configured with port 0). */
  addresses(): { transport: "tcp" | "tls"; address: ListenAddress }[] {
    return this.#listeners.map((l) => ({ transport: l.transport, address: l.address() }));
  }

  /**
   * Reads the TLS listener's CRL file again and puts it in force for new connections (SIGHUP;
   * the file is also watched). False when there is none or it is unusable (logged).
   */
  reloadCrl(): Promise<boolean> {
    return this.#crlWatch?.reload() ?? Promise.resolve(false);
  }

  apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]> {
    // Before any byte of a batch leaves: a session bound to another member than the batch's
    // (its dpid changed hands since it was admitted) is refused, not served.
    for (const b of batches) {
      const stale = this.#bindings.boundElsewhere(b.dpid, b.vmId);
      if (!stale) continue;
      const dpidMember = { clusterId: stale.member.clusterId, vmId: b.vmId };
      for (const s of stale.sessions) this.#refuseBound(s, stale.member, dpidMember);
    }
    return this.#fabric.apply(batches);
  }

  switches(): Promise<SwitchStatus[]> {
    return this.#fabric.switches();
  }

  isConnected(dpid: bigint): boolean {
    return this.#fabric.isConnected(dpid);
  }

  beginRebind(intent: RebindIntent): RebindWatch | undefined {
    return this.#fabric.beginRebind(intent);
  }

  #accept(socket: Socket, transport: "tcp" | "tls"): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const { metrics } = this.#parts;
    // Read now: by the time the handshake ends, the TLS socket is the session's.
    const peer = transport === "tls" ? (socket as TLSSocket).getPeerX509Certificate() : undefined;
    const certificate = transport === "tls" ? certificateMember(peer?.subjectAltName) : undefined;
    const session = new SwitchSession(
      socket,
      transport,
      this.#config,
      {
        admit: (s) => (certificate === undefined ? undefined : this.#admit(s, certificate)),
        ready: (s) => {
          this.registry.add(s);
          this.#log.info("switch connected", { switch: s.label, transport });
          this.#reconcile(s, 0);
        },
        closed: (s, reason, wasReady) => {
          this.#sessions.delete(s);
          this.#serials.delete(s);
          this.registry.remove(s);
          if (s.dpid !== undefined) this.#bindings.unbind(s.dpid, s);
          if (!wasReady && s.dpid === undefined && !this.#closing) {
            this.#handshakeFailures.note({
              transport,
              remote: `${s.remoteAddress}:${s.remotePort}`,
              reason: reason.reason,
            });
          }
          this.#observer?.closed?.(s, reason);
        },
        packetIn: (s, m) => {
          if (!this.probes.packetIn(s, m))
            this.#log.debug("PACKET_IN that is no probe of ours", { switch: s.label });
        },
        openflowError: (_s, info) => metrics.openflowErrorsTotal.inc({ type: info.type, code: info.code }),
        flowModsSent: (n) => metrics.flowModsTotal.inc(n),
      },
      this.#log,
    );
    if (session.isClosed) return;
    this.#sessions.add(session);
    if (peer) this.#serials.set(session, normalSerial(peer.serialNumber));
  }

  /** A new CRL is in force: sessions whose certificate it revokes end now, not at their next connection. */
  #dropRevoked(revoked: ReadonlySet<string>): void {
    for (const [s, serial] of this.#serials) {
      if (!revoked.has(serial)) continue;
      this.#parts.metrics.switchIdentityRefusedTotal.inc({ reason: "revoked" });
      this.#log.warn("switch disconnected: its certificate was revoked", { switch: s.label, serial });
      s.close("certificate revoked");
    }
  }

  /** Whether a TLS session may be the switch of the dpid it announced; a refusal is logged and counted. */
  #admit(
    s: SwitchSession,
    certificate: CertificateMember,
  ): { reason: string; error: ReturnType<typeof identityRefused> } | undefined {
    const dpid = s.dpid!;
    let dpidMember: MemberRef | undefined;
    try {
      dpidMember = this.#parts.store.memberByDpid(dpid);
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
    this.registry.remove(s);
    s.refuse(`refused: ${message}`, identityRefused(0, "other-member"));
  }

  #refusalLogged(
    s: SwitchSession,
    reason: RefusalReason,
    message: string,
    members: { certificateMember: string | null; dpidMember: string | null },
  ): void {
    this.#parts.metrics.switchIdentityRefusedTotal.inc({ reason });
    this.#log.warn(`switch refused: ${message}`, { switch: s.label, reason, ...members });
  }

  /**
   * A moved VM's new instance (its old one is still connected, or it comes from the member's
   * announced next endpoint) resolves its tunnel next hops toward its peers now: its VM may send
   * before the rebind (peers accept an announced endpoint). Not on every reconnect: after a
   * controller restart, a thousand switches priming 64 peers each would be a storm.
   */
  #primeNewInstance(session: SwitchSession): void {
    const member = session.dpid === undefined ? undefined : this.#parts.store.memberByDpid(session.dpid);
    if (!member) return;
    const moving =
      this.registry.sessionsOf(member.dpid).length > 1 ||
      (member.nextEndpoint !== null && session.remoteAddress === member.nextEndpoint);
    if (!moving) return;
    const state = this.#parts.store.clusterState(member.clusterId);
    if (state) this.probes.primeConnected(session, state, member.vmId);
  }

  primeNextEndpoint(state: ClusterState, vmId: string, endpoint: Ipv4): void {
    this.probes.primeAnnounced(state, vmId, endpoint);
  }

  #reconcile(session: SwitchSession, attempt: number): void {
    this.#reconciler.reconcile(session).then(
      (result) => {
        this.#observer?.reconciled?.(session, result);
        if (result.status === "in-sync" || result.status === "updated") this.#primeNewInstance(session);
      },
      (err: Error) => {
        this.#observer?.reconciled?.(session, err);
        if (!session.isReady || this.#closing) return;
        if (attempt >= RECONCILE_RETRIES) {
          this.#log.error("giving up reconciling switch", { switch: session.label, error: err.message });
          return;
        }
        const delay = 500 * 2 ** attempt;
        this.#log.warn("reconcile failed; retrying", {
          switch: session.label,
          error: err.message,
          inMs: delay,
        });
        const timer = setTimeout(() => {
          this.#retries.delete(timer);
          this.#reconcile(session, attempt + 1);
        }, delay);
        this.#retries.add(timer);
      },
    );
  }
}
