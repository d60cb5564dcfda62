import { join } from "node:path";
import type { PhaseReport, RebindReport } from "../../../../contract/controller-api/index.ts";
import type { CloseReason } from "../../../../controller/openflow/channel.ts";
import { MemoryLog } from "../../../../controller/openflow/log.ts";
import type { OpenFlowOptions, OpenFlowServer } from "../../../../controller/openflow/openflow-server.ts";
import type { ReconcileResult } from "../../../../controller/openflow/reconciler.ts";
import type { SwitchSession } from "../../../../controller/openflow/session.ts";
import { type RunningController, startController } from "../../../../controller/server.ts";
import type { SwitchEntry } from "../../../../controller/service/switch-inventory.ts";
import type { RebindRecord } from "../../../../controller/store/records.ts";

/** Response bodies the tests read. */
export type RebindBody = RebindReport;
export interface SwitchesBody {
  readonly switches: SwitchEntry[];
}
export interface FabricErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details: { readonly phases: PhaseReport[] };
}

import { tempDir } from "../../support/fixtures.ts";

/** A controller with its OpenFlow server on 127.0.0.1 (ports picked by the OS), for tests. */
export interface OfHarness {
  readonly controller: RunningController;
  readonly server: OpenFlowServer;
  readonly log: MemoryLog;
  readonly tcpPort: number;
  readonly tlsPort: number | undefined;
  readonly dbPath: string;
  /** Every reconcile result, in order. */
  readonly reconciles: { session: SwitchSession; result: ReconcileResult | Error }[];
  /** Every closed session (handshaken or not), with when (performance.now()). */
  readonly closes: { session: SwitchSession; reason: CloseReason; at: number }[];
  /** JSON request to the REST API (auth is off); `T` is what the test expects the body to be. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /**
   * A rebind's history record (GET .../rebinds/{id}); `settled`: once its cleanup and downtime
   * probes are done (what a test reads switches after, since they run after the answer).
   */
  rebindRecord(clusterId: string, vmId: string, id: number | null, settled?: boolean): Promise<RebindRecord>;
  /**
   * Holds every rebind's downtime probes open (and so its record pending) until the returned
   * function is called: what a test needs to see the answer come before the downtime is known.
   */
  holdProbes(): () => void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly openflow?: Omit<OpenFlowOptions, "tcp" | "log" | "observer">;
  readonly probePort?: number;
  /** Reuse a database (a controller restart); default a new temp one. */
  readonly dbPath?: string;
  /** Fixed OpenFlow port (a restart must come back where switches look for it). */
  readonly tcpPort?: number;
}

export async function startHarness(options: HarnessOptions = {}): Promise<OfHarness> {
  const dir = options.dbPath ? undefined : tempDir("icsdn-of-");
  const dbPath = options.dbPath ?? join(dir!.path, "controller.db");
  const log = new MemoryLog();
  const reconciles: OfHarness["reconciles"] = [];
  const closes: OfHarness["closes"] = [];
  let controller: RunningController;
  try {
    controller = await startController({
      dbPath,
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "none" },
      compile: { probePort: options.probePort },
      openflow: {
        ...options.openflow,
        tcp: { host: "127.0.0.1", port: options.tcpPort ?? 0 },
        log,
        observer: {
          reconciled: (session, result) => reconciles.push({ session, result }),
          closed: (session, reason) => closes.push({ session, reason, at: performance.now() }),
        },
      },
    });
  } catch (err) {
    dir?.remove();
    throw err;
  }
  const server = controller.openflow!;
  const addresses = server.addresses();
  const port = (t: "tcp" | "tls") => addresses.find((a) => a.transport === t)?.address.port;
  async function api<T>(method: string, path: string, body?: unknown) {
    const res = await fetch(`${controller.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
  }
  return {
    controller,
    server,
    log,
    tcpPort: port("tcp")!,
    tlsPort: port("tls"),
    dbPath,
    reconciles,
    closes,
    api,
    async rebindRecord(clusterId, vmId, id, settled = true) {
      if (id === null) throw new Error(`rebind of ${clusterId}/${vmId} changed nothing: it has no record`);
      const path = `/v1/clusters/${clusterId}/members/${vmId}/rebinds/${id}${settled ? "?settled=true" : ""}`;
      const res = await api<RebindRecord>("GET", path);
      if (res.status !== 200)
        throw new Error(`GET ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    holdProbes() {
      const fabric = server.fabric;
      const begin = fabric.beginRebind.bind(fabric);
      const held = Promise.withResolvers<void>();
      fabric.beginRebind = async (intent) => {
        const watch = await begin(intent);
        return (
          watch && {
            finish: async () => {
              await held.promise;
              return watch.finish();
            },
          }
        );
      };
      return () => held.resolve();
    },
    async close() {
      await controller.close();
      dir?.remove();
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reconciles that succeeded so far. */
export function reconciledCount(h: OfHarness): number {
  return h.reconciles.filter((r) => !(r.result instanceof Error)).length;
}
