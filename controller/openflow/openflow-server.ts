import type { Socket } from "node:net";
import type { ListenAddress } from "../../contract/http/serve-config.ts";
import type { RulePlanner } from "../compiler/rule-planner.ts";
import type { ControllerMetrics } from "../metrics/controller-metrics.ts";
import type { CloseReason } from "./channel.ts";
import { CrlWatch } from "./crl-watch.ts";
import { HandshakeFailureLog } from "./handshake-failures.ts";
import { HeldRuleIndex } from "./held-rule-index.ts";
import { OpenFlowListener, type TlsMaterial } from "./listener.ts";
import { type OfLog, silentLog } from "./log.ts";
import { OpenFlowFabric } from "./openflow-fabric.ts";
import { DEFAULT_PROBE_SETTINGS, type ProbeSettings, RebindProbes } from "./rebind-probes.ts";
import { type ClusterReader, type ReconcileResult, Reconciler, type ReconcilerDeps } from "./reconciler.ts";
import { SessionRegistry } from "./registry.ts";
import { Retries } from "./retries.ts";
import { RECONCILE_RETRY } from "./retry-policy.ts";
import { DEFAULT_SESSION_CONFIG, type SessionConfig, SwitchSession } from "./session.ts";
import { SwitchAdmission } from "./switch-admission.ts";

/** The switch side's own settings (listeners, timing); what it shares with the rest comes in SwitchSideParts. */
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
  /** Probe timing and priming; the probe port is the planner's. */
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

/** What the composition root hands the switch side: the parts it shares with the cluster service. */
export interface SwitchSideParts {
  /** The desired state (the store, read-only). */
  readonly clusters: ClusterReader;
  /** What each switch should hold (the same planner the cluster service plans with). */
  readonly planner: RulePlanner;
  /** The clusters' locks, shared with the cluster service. */
  readonly locks: ReconcilerDeps["locks"];
  readonly metrics: ControllerMetrics;
}

/**
 * The controller's switch side, composed: listeners (TCP, TLS, with the CRL they enforce and the
 * failed handshakes they log in aggregate), one SwitchSession per connection, the TLS sessions'
 * admission, the session registry, the reconciler run on every switch that connects (and after a
 * failed batch, with its retries), the rebind probes fed by PACKET_IN, and `fabric`, what the
 * cluster service drives.
 */
export class OpenFlowServer {
  readonly registry = new SessionRegistry();
  /** What every session's switch is known to hold, numbered once for all of them (held-rule-index.ts). */
  readonly heldRules = new HeldRuleIndex();
  readonly probes: RebindProbes;
  readonly fabric: OpenFlowFabric;
  readonly #listeners: OpenFlowListener[] = [];
  readonly #sessions = new Set<SwitchSession>();
  readonly #reconciler: Reconciler;
  readonly #retries = new Retries(RECONCILE_RETRY);
  readonly #parts: SwitchSideParts;
  readonly #config: SessionConfig;
  readonly #log: OfLog;
  readonly #observer: OpenFlowOptions["observer"];
  readonly #handshakeFailures: HandshakeFailureLog;
  readonly #admission: SwitchAdmission;
  readonly #crlWatch: CrlWatch | undefined;
  #closing = false;

  constructor(parts: SwitchSideParts, options: OpenFlowOptions) {
    this.#parts = parts;
    this.#config = { ...DEFAULT_SESSION_CONFIG, ...options.session };
    this.#log = options.log ?? silentLog;
    this.#observer = options.observer;
    this.probes = new RebindProbes({
      settings: { ...DEFAULT_PROBE_SETTINGS, ...options.probes, probePort: parts.planner.probePort },
      pick: (dpid, endpoint) => this.registry.pick(dpid, endpoint),
      log: this.#log,
    });
    this.#reconciler = new Reconciler({
      clusters: parts.clusters,
      planner: parts.planner,
      locks: parts.locks,
      retries: this.#retries,
      log: this.#log,
      reported: (session, result) => this.#reconciled(session, result),
    });
    this.#admission = new SwitchAdmission({
      clusters: parts.clusters,
      registry: this.registry,
      metrics: parts.metrics,
      log: this.#log,
      allowUnbound: options.tls?.allowUnboundCertificates ?? false,
    });
    this.fabric = new OpenFlowFabric({
      registry: this.registry,
      probes: this.probes,
      reconciler: this.#reconciler,
      admission: this.#admission,
      log: this.#log,
    });
    this.#handshakeFailures = new HandshakeFailureLog({
      log: this.#log,
      intervalMs: options.handshakeFailureLogIntervalMs ?? 60_000,
      count: (transport) => parts.metrics.handshakeFailuresTotal.inc({ transport }),
    });
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
            this.#admission.dropRevoked(revoked);
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
    this.#retries.cancelAll();
    this.fabric.close();
    this.#crlWatch?.close();
    this.#handshakeFailures.close();
    const closing = this.#listeners.map((l) => l.close());
    for (const s of [...this.#sessions]) s.close("controller shutting down");
    await Promise.all(closing);
  }

  /** Joins /readyz as check "openflow". */
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

  #accept(socket: Socket, transport: "tcp" | "tls"): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const { metrics } = this.#parts;
    // Read now: by the time the handshake ends, the TLS socket is the session's.
    const admission = this.#admission.atAccept(socket, transport);
    const session = new SwitchSession(
      socket,
      transport,
      this.#config,
      {
        admit: admission.admit,
        ready: (s) => {
          this.registry.add(s);
          this.#log.info("switch connected", { switch: s.label, transport });
          this.#reconciler.resync(s);
        },
        closed: (s, reason, wasReady) => {
          this.#sessions.delete(s);
          this.registry.remove(s);
          this.#admission.closed(s);
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
      this.heldRules,
    );
    if (session.isClosed) return;
    this.#sessions.add(session);
    admission.track(session);
  }

  #reconciled(session: SwitchSession, result: ReconcileResult | Error): void {
    this.#observer?.reconciled?.(session, result);
    if (!(result instanceof Error) && (result.status === "in-sync" || result.status === "updated"))
      this.#primeNewInstance(session);
  }

  /**
   * A moved VM's new instance (its old one is still connected, or it comes from the member's
   * announced next endpoint) resolves its tunnel next hops toward its peers now: its VM may send
   * before the rebind (peers accept an announced endpoint). Not on every reconnect: after a
   * controller restart, a thousand switches priming 64 peers each would be a storm.
   */
  #primeNewInstance(session: SwitchSession): void {
    const { clusters } = this.#parts;
    const member = session.dpid === undefined ? undefined : clusters.memberByDpid(session.dpid);
    if (!member) return;
    const moving =
      this.registry.sessionsOf(member.dpid).length > 1 ||
      (member.nextEndpoint !== null && session.remoteAddress === member.nextEndpoint);
    if (!moving) return;
    const state = clusters.clusterState(member.clusterId);
    if (state) this.probes.primeConnected(session, state, member.vmId);
  }
}
