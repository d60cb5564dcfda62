import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { datapathIdFor } from "../contract/dataplane/index.ts";
import { EmulatorThread } from "../controller/openflow/emulator/emulator-thread.ts";
import type { OpenFlowServer } from "../controller/openflow/openflow-server.ts";
import { type RunningController, startController } from "../controller/server.ts";
import { startOvsSwitch, stopAllOvs } from "../test/controller/openflow/support/ovs-switch.ts";
import { type Bench, type Figure, median } from "./figures.ts";

// Update time (DESIGN.md: rebind received -> every affected switch's barrier reply), as the REST
// API reports it, for one member moving in clusters of 4, 16 and 1,000 emulated switches (the
// emulator in its own thread, each switch its own TCP connection on 127.0.0.1), and of 2 and 4
// members on real Open vSwitch (processes on this machine, OVS's dummy datapath). Each size is
// measured both with the move's new endpoint announced first and without. Rebinds are spaced so that one rebind's background rule recounts do not
// fall into the next one; the first two of each series warm the JIT up and are not counted.

const PROBE_PORT = 48879;
const WARMUP = 2;

interface Controller {
  readonly running: RunningController;
  readonly server: OpenFlowServer;
  readonly dir: string;
  readonly port: number;
  call(path: string, body: unknown, method?: string): Promise<{ status: number; body: { updateMs: number } }>;
  close(): Promise<void>;
}

async function controller(): Promise<Controller> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-bench-"));
  const running = await startController({
    dbPath: join(dir, "controller.db"),
    listen: { host: "127.0.0.1", port: 0 },
    auth: { mode: "none" },
    compile: { probePort: PROBE_PORT },
    openflow: { tcp: { host: "127.0.0.1", port: 0 } },
  });
  const server = running.openflow!;
  return {
    running,
    server,
    dir,
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

const member = (i: number) => ({
  vmId: `vm${i}`,
  vint0: `198.18.${(i + 1) >> 8}.${(i + 1) & 255}`,
  endpoint: `198.19.${(i + 1) >> 8}.${(i + 1) & 255}`,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean> | boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface UpdateTimes {
  /** The new endpoint announced first (PUT .../next-endpoint), as a mediator does: peers accept it already. */
  readonly announced: number;
  /** A bare rebind: peers must accept the new endpoint in a round of its own first. */
  readonly bare: number;
}

/**
 * Median update time of `rounds` rebinds of vm1 each way (announced and bare, interleaved, so the
 * two see the same machine), alternating between two endpoints.
 */
async function rebinds(c: Controller, rounds: number, gapMs: number): Promise<UpdateTimes> {
  const times = { announced: [] as number[], bare: [] as number[] };
  for (let k = 0; k < 2 * (WARMUP + rounds); k++) {
    const endpoint = k % 2 === 0 ? "203.0.113.1" : "203.0.113.2";
    const announced = Math.floor(k / 2) % 2 === 0;
    if (announced) {
      const res = await c.call("/v1/clusters/big/members/vm1/next-endpoint", { endpoint }, "PUT");
      if (res.status !== 200) throw new Error(`announce answered ${res.status}: ${JSON.stringify(res.body)}`);
      await sleep(gapMs);
    }
    const res = await c.call("/v1/clusters/big/members/vm1/rebind", { endpoint });
    if (res.status !== 200) throw new Error(`rebind answered ${res.status}: ${JSON.stringify(res.body)}`);
    if (k >= 2 * WARMUP) times[announced ? "announced" : "bare"].push(res.body.updateMs);
    await sleep(gapMs);
  }
  return { announced: median(times.announced), bare: median(times.bare) };
}

async function emulated(n: number, rounds: number): Promise<{ updateMs: UpdateTimes; setupMs: number }> {
  const c = await controller();
  let emu: EmulatorThread | undefined;
  try {
    const members = Array.from({ length: n }, (_, i) => member(i));
    await c.call("/v1/clusters", { id: "big", vni: 42, tunnel: "vxlan", members });
    const started = performance.now();
    emu = await EmulatorThread.start({
      controller: { host: "127.0.0.1", port: c.port },
      switches: members.map((m) => ({ dpid: datapathIdFor(42, m.vint0), endpoint: m.endpoint })),
    });
    await until(
      async () =>
        (await c.server.fabric.switches()).every((s) => s.ruleCount !== null) &&
        (await c.server.fabric.switches()).length === n,
      "every switch programmed",
      120_000,
    );
    const setupMs = performance.now() - started;
    // A thousand switches' recounts after a rebind take a moment on the emulator's side.
    return { updateMs: await rebinds(c, rounds, n >= 1000 ? 1_500 : 300), setupMs };
  } finally {
    await emu?.close();
    await c.close();
  }
}

async function realOvs(n: number, rounds: number): Promise<UpdateTimes | undefined> {
  if (spawnSync("ovs-vswitchd", ["--version"]).status !== 0) return undefined;
  const c = await controller();
  try {
    const members = Array.from({ length: n }, (_, i) => member(i));
    await c.call("/v1/clusters", { id: "big", vni: 42, tunnel: "vxlan", members });
    for (const m of members)
      startOvsSwitch({ dpid: datapathIdFor(42, m.vint0), target: `tcp:127.0.0.1:${c.port}` });
    await until(
      async () => (await c.server.fabric.switches()).filter((s) => s.ruleCount !== null).length === n,
      "every OVS programmed",
      20_000,
    );
    return await rebinds(c, rounds, 300);
  } finally {
    stopAllOvs();
    await c.close();
  }
}

const bench: Bench = {
  title: "controller: rebind update time (emulated switches over TCP; real OVS)",
  async run() {
    const figures: Figure[] = [];
    for (const [n, rounds] of [
      [4, 9],
      [16, 9],
      [1000, 7],
    ] as const) {
      const { updateMs, setupMs } = await emulated(n, rounds);
      figures.push(...updateFigures(`${n}_members`, updateMs, `median of ${rounds} rebinds`));
      if (n === 1000) {
        figures.push({
          name: "controller.setup_ms.1000_members",
          value: setupMs,
          unit: "ms to connect and program 1,000 switches",
        });
      }
    }
    for (const n of [2, 4]) {
      const ovs = await realOvs(n, 9);
      if (ovs !== undefined)
        figures.push(...updateFigures(`ovs_${n}_members`, ovs, "median of 9 rebinds, real OVS 3.1"));
    }
    return figures;
  },
};

/** The announced figure under the plain name (the mediator's way), the bare one beside it. */
function updateFigures(what: string, t: UpdateTimes, how: string): Figure[] {
  return [
    {
      name: `controller.update_ms.${what}`,
      value: t.announced,
      unit: `ms (${how}, next endpoint announced)`,
    },
    { name: `controller.update_ms.bare.${what}`, value: t.bare, unit: `ms (${how}, not announced)` },
  ];
}
export default bench;
