import type { Socket } from "node:net";
import type { ListenAddress } from "../../contract/http/serve-config.ts";
import type { SwitchBatch } from "../compiler/transition-planner.ts";
import { OpenFlowFabric } from "../fabric/openflow-fabric.ts";
import type { BatchOutcome, RebindIntent, RebindWatch, SwitchStatus } from "../fabric/switch-fabric.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { Ipv4 } from "../model/ipv4.ts";
import type { FabricComponent, FabricParts } from "../server.ts";
import type { CloseReason } from "./channel.ts";
import { OpenFlowListener, type TlsMaterial } from "./listener.ts";
import { type OfLog, silentLog } from "./log.ts";
import { DEFAULT_PROBE_SETTINGS, type ProbeSettings, RebindProbes } from "./rebind-probes.ts";
import { type ReconcileResult, Reconciler } from "./reconciler.ts";
import { SessionRegistry } from "./registry.ts";
import { DEFAULT_SESSION_CONFIG, type SessionConfig, SwitchSession } from "./session.ts";

export interface OpenFlowOptions {
  /** Plain TCP listener (OVS target `tcp:HOST:PORT`). */
  readonly tcp?: ListenAddress;
  /** Mutual-TLS listener (OVS target `ssl:HOST:PORT`). */
  readonly tls?: ListenAddress & { readonly material: TlsMaterial };
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
    for (const t of this.#retries) clearTimeout(t);
    this.#retries.clear();
    this.#fabric.close();
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

  apply(batches: readonly SwitchBatch[]): Promise<BatchOutcome[]> {
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
    const session = new SwitchSession(
      socket,
      transport,
      this.#config,
      {
        ready: (s) => {
          this.registry.add(s);
          this.#log.info("switch connected", { switch: s.label, transport });
          this.#reconcile(s, 0);
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
