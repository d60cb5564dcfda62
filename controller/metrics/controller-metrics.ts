import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { IdentityMetricReason } from "../openflow/switch-identity.ts";

export type RebindMetricResult = "ok" | "noop" | "refused" | "failed";

/**
 * The controller's Prometheus metrics on their own Registry (never the global one), so several
 * controllers (tests) can live in one process. The OpenFlow side increments flowModsTotal and
 * openflowErrorsTotal for every message it sends and error it receives; the gauge of connected
 * switches is read from the fabric at scrape time.
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  /** Paper: 63 ms. */
  readonly linkingSeconds: Histogram;
  /** Rebind received -> every affected switch confirmed. Paper: 26.5 ms. */
  readonly updateSeconds: Histogram;
  /** Longest gap in a probe stream across a rebind. Paper: 5.3 ms. */
  readonly downtimeSeconds: Histogram;
  readonly switchesConnected: Gauge;
  readonly switchesMissing: Gauge;
  readonly flowModsTotal: Counter;
  readonly openflowErrorsTotal: Counter<"type" | "code">;
  readonly rebindsTotal: Counter<"result">;
  readonly switchIdentityRefusedTotal: Counter<"reason">;
  readonly handshakeFailuresTotal: Counter<"transport">;

  constructor(
    options: {
      connectedSwitches?: () => Promise<number>;
      missingSwitches?: () => Promise<number>;
      processMetrics?: boolean;
    } = {},
  ) {
    const registers = [this.registry];
    this.linkingSeconds = new Histogram({
      name: "icsdn_linking_seconds",
      help: "Time from vm-init's network step to icbr0 connected to the controller, per VM (reported by vm-init)",
      // Boundaries at our goal (15 ms) and the paper's 63 ms make "share above" exact.
      buckets: [0.005, 0.01, 0.015, 0.025, 0.05, 0.063, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.updateSeconds = new Histogram({
      name: "icsdn_update_seconds",
      help: "Time from receiving a rebind to every affected switch confirming the new rules (barrier reply)",
      // A boundary at the paper's 26.5 ms; our goal is 1 ms.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.0265, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.downtimeSeconds = new Histogram({
      name: "icsdn_downtime_seconds",
      help: "Longest gap in a probe stream between cluster members across a rebind",
      // A boundary at the paper's 5.3 ms.
      buckets: [0.0005, 0.001, 0.0025, 0.0053, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    const connected = options.connectedSwitches;
    this.switchesConnected = new Gauge({
      name: "icsdn_switches_connected",
      help: "Switches with an OpenFlow session to this controller",
      registers,
      async collect() {
        await collectInto(this, connected);
      },
    });
    const missing = options.missingSwitches;
    this.switchesMissing = new Gauge({
      name: "icsdn_switches_missing",
      help: "Members with an endpoint (placed VMs) whose switch has no OpenFlow session to this controller",
      registers,
      async collect() {
        await collectInto(this, missing);
      },
    });
    this.flowModsTotal = new Counter({
      name: "icsdn_flow_mods_total",
      help: "FLOW_MOD messages sent to switches",
      registers,
    });
    this.openflowErrorsTotal = new Counter({
      name: "icsdn_openflow_errors_total",
      help: "OpenFlow ERROR messages received from switches, by error type and code",
      labelNames: ["type", "code"],
      registers,
    });
    this.rebindsTotal = new Counter({
      name: "icsdn_rebinds_total",
      help: "Rebind requests by result: ok, noop (same endpoint), refused (bad request), failed (a switch failed)",
      labelNames: ["result"],
      registers,
    });
    // Present from the first scrape, so rate() works before the first rebind.
    for (const result of ["ok", "noop", "refused", "failed"] satisfies RebindMetricResult[]) {
      this.rebindsTotal.inc({ result }, 0);
    }
    this.switchIdentityRefusedTotal = new Counter({
      name: "icsdn_switch_identity_refused_total",
      help:
        "TLS sessions refused after the handshake because the certificate is not the datapath id's member's " +
        "(other-member, no-member: no member has the dpid, unbound: names no member, invalid), " +
        "or ended because a reloaded CRL revokes their certificate (revoked)",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of [
      "other-member",
      "no-member",
      "unbound",
      "invalid",
      "revoked",
    ] satisfies IdentityMetricReason[]) {
      this.switchIdentityRefusedTotal.inc({ reason }, 0);
    }
    this.handshakeFailuresTotal = new Counter({
      name: "icsdn_openflow_handshake_failures_total",
      help: "Connections to the OpenFlow listeners that ended before completing the TLS or OpenFlow handshake",
      labelNames: ["transport"],
      registers,
    });
    for (const transport of ["tcp", "tls"]) this.handshakeFailuresTotal.inc({ transport }, 0);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A failing or slow source must not fail the whole scrape: the gauge keeps its last value then. */
async function collectInto(gauge: Gauge, source: (() => Promise<number>) | undefined): Promise<void> {
  if (!source) return;
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000).unref());
  const n = await Promise.race([source().catch(() => undefined), timeout]);
  if (n !== undefined) gauge.set(n);
}
