import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenFlowServer } from "../controller/openflow/openflow-server.ts";
import { type RunningController, startController } from "../controller/server.ts";
import { type Figure, median } from "./figures.ts";

/** The benches' controller: ours, whole (REST, store, compiler, switch side), on 127.0.0.1. */
export interface BenchController {
  readonly running: RunningController;
  readonly server: OpenFlowServer;
  readonly port: number;
  call(path: string, body: unknown, method?: string): Promise<{ status: number; body: { updateMs: number } }>;
  /** PUT .../next-endpoint of member `vmId` of cluster "big", as a mediator does before a move. */
  announce(vmId: string, endpoint: string): Promise<void>;
  /** POST .../rebind of member `vmId` of cluster "big"; its update time (ms) as the API reports it. */
  rebind(vmId: string, endpoint: string): Promise<number>;
  close(): Promise<void>;
}

export const PROBE_PORT = 48879;

export async function benchController(): Promise<BenchController> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-bench-"));
  const running = await startController({
    dbPath: join(dir, "controller.db"),
    listen: { host: "127.0.0.1", port: 0 },
    auth: { mode: "none" },
    compile: { probePort: PROBE_PORT },
    openflow: { tcp: { host: "127.0.0.1", port: 0 } },
  });
  const server = running.openflow!;
  const call: BenchController["call"] = async (path, body, method = "POST") => {
    const res = await fetch(`${running.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { updateMs: number } };
  };
  return {
    running,
    server,
    port: server.addresses()[0]!.address.port,
    call,
    async announce(vmId, endpoint) {
      const res = await call(`/v1/clusters/big/members/${vmId}/next-endpoint`, { endpoint }, "PUT");
      if (res.status !== 200) throw new Error(`announce answered ${res.status}: ${JSON.stringify(res.body)}`);
    },
    async rebind(vmId, endpoint) {
      const res = await call(`/v1/clusters/big/members/${vmId}/rebind`, { endpoint });
      if (res.status !== 200) throw new Error(`rebind answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.updateMs;
    },
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Member i: vint0 in 198.18.0.0/15 and endpoint in 198.19.0.0/16 (RFC 2544 benchmark space). */
export const member = (i: number) => ({
  vmId: `vm${i}`,
  vint0: `198.18.${(i + 1) >> 8}.${(i + 1) & 255}`,
  endpoint: `198.19.${(i + 1) >> 8}.${(i + 1) & 255}`,
});

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Update times under their names: announced (the mediator's way) plain, bare beside it. */
export function updateFigures(what: string, announced: number[], bare: number[], how: string): Figure[] {
  return [
    {
      name: `controller.update_ms.${what}`,
      value: median(announced),
      unit: `ms (${how}, next endpoint announced)`,
    },
    { name: `controller.update_ms.bare.${what}`, value: median(bare), unit: `ms (${how}, not announced)` },
  ];
}

/** Ratio of two series taken round by round (same machine state), then the median of those. */
export function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]!);
}
