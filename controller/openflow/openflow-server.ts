import type { Socket } from "node:net";
import type { RulePlanner } from "../compiler/rule-planner.ts";
import type { ListenAddress } from "../config.ts";
import type { ControllerMetrics } from "../metrics/controller-metrics.ts";
import type { CloseReason } from "./channel.ts";
import { OpenFlowListener, type TlsMaterial } from "./listener.ts";
import { type OfLog, silentLog } from "./log.ts";
import { OpenFlowFabric } from "./openflow-fabric.ts";
import { DEFAULT_PROBE_SETTINGS, type ProbeSettings, RebindProbes } from "./rebind-probes.ts";
import { type ClusterReader, type ReconcileResult, Reconciler, type ReconcilerDeps } from "./reconciler.ts";
import { SessionRegistry } from "./registry.ts";
import { Retries } from "./retries.ts";
import { RECONCILE_RETRY } from "./retry-policy.ts";
import { DEFAULT_SESSION_CONFIG, type SessionConfig, SwitchSession } from "./session.ts";

/** The switch side's own settings (listeners, timing); what it shares with the rest comes in SwitchSideParts. */
export interface OpenFlowOptions {
  /** Plain TCP listener (OVS target `tcp:HOST:PORT`). */
  readonly tcp?: ListenAddress;
  /** Mutual-TLS listener (OVS target `ssl:HOST:PORT`). */
  readonly tls?: ListenAddress & { readonly material: TlsMaterial };
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
 * The controller's switch side, composed: listeners (TCP, TLS), one SwitchSession per connection,
 * the session registry, the reconciler run on every switch that connects (and after a failed
 * batch, with its retries), the rebind probes fed by PACKET_IN, and `fabric`, what the cluster
 * service drives.
 */
export class OpenFlowServer {
  readonly registry = new SessionRegistry();
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
    this.fabric = new OpenFlowFabric({
      registry: this.registry,
      probes: this.probes,
      reconciler: this.#reconciler,
      log: this.#log,
    });
    const listenerOptions = {
      maxConnections: options.maxConnections ?? 10_000,
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      log: this.#log,
    };
    const accept = (socket: Socket, transport: "tcp" | "tls") => this.#accept(socket, transport);
    if (options.tcp)
      this.#listeners.push(new OpenFlowListener(options.tcp, undefined, listenerOptions, accept));
    if (options.tls) {
      this.#listeners.push(new OpenFlowListener(options.tls, options.tls.material, listenerOptions, accept));
    }
  }

  async start(): Promise<void> {
    try {
      for (const l of this.#listeners) await l.listen();
    } catch (err) {
      await this.close();
      throw err;
    }
    for (const l of this.#listeners) {
      const at = l.address();
      this.#log.info("listening for switches", { transport: l.transport, host: at.host, port: at.port });
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#retries.cancelAll();
    this.fabric.close();
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

  #accept(socket: Socket, transport: "tcp" | "tls"): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const { metrics } = this.#parts;
    const session = new SwitchSession(
      socket,
      transport,
      this.#config,
      {
        ready: (s) => {
          this.registry.add(s);
          this.#log.info("switch connected", { switch: s.label, transport });
          this.#reconciler.resync(s);
        },
        closed: (s, reason) => {
          this.#sessions.delete(s);
          this.registry.remove(s);
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
    if (!session.isClosed) this.#sessions.add(session);
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
