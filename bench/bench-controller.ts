import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenFlowServer } from "../controller/openflow/openflow-server.ts";
import { type RunningController, startController } from "../controller/server.ts";

/** The benches' controller: ours, whole (REST, store, compiler, switch side), on 127.0.0.1. */
export interface BenchController {
  readonly running: RunningController;
  readonly server: OpenFlowServer;
  readonly port: number;
  call(path: string, body: unknown, method?: string): Promise<{ status: number; body: { updateMs: number } }>;
  close(): Promise<void>;
}

export const PROBE_PORT = 48879;

export async function benchController(): Promise<BenchController> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-bench-"));
  let server!: OpenFlowServer;
  const running = await startController({
    dbPath: join(dir, "controller.db"),
    listen: { host: "127.0.0.1", port: 0 },
    auth: { mode: "none" },
    compile: { probePort: PROBE_PORT },
    fabric: (parts) => {
      server = new OpenFlowServer(parts, { tcp: { host: "127.0.0.1", port: 0 } });
      return server;
    },
  });
  return {
    running,
    server,
    port: server.addresses()[0]!.address.port,
    async call(path, body, method = "POST") {
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { updateMs: number } };
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

/** Ratio of two series taken round by round (same machine state), then the median of those. */
export function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]!);
}
