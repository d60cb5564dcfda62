import { mkdtempSync, rmSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { createHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { GCProfiler, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { datapathIdFor } from "../contract/dataplane/index.ts";
import { type RunningController, startController } from "../controller/server.ts";
import { EmulatorProcess } from "../test/support/switch-emulator/emulator-process.ts";
import { type Bench, type Figure, median } from "./figures.ts";
import { HttpClientThread } from "./support/http-client.ts";
import { runQueueMs } from "./support/run-queue.ts";

// A member's add, removal and rebind in clusters of 1,000 and 5,000 members (issue 12): n - 1
// members, and the n-th added and removed again. Each request's time (see call() in
// support/http-client-worker.ts), the event loop's delay during each (monitorEventLoopDelay, 1 ms
// resolution; the worst request's p99 and the longest delay), the main thread's own work and that
// delay less the main thread's waits for a CPU (loopWork), and the controller's resident memory
// once they are done. The controller is this process's main thread alone: the HTTP client runs on
// a worker thread (its fetches and the parsing of a 5,000-switch answer were counted as the
// controller's until 2026-12-07), the emulated switches in a child process
// (test/support/switch-emulator/emulator-process.ts), niced once programmed so that on this 2-core
// machine they do not take the controller's CPU (they stand for 5,000 other machines). Every
// member's switch is connected and programmed: at 1,000 members each keeps its flow table; at
// 5,000 they are sinks that confirm and count their FLOW_MODs without keeping them (100 million
// entries are beyond one process), which changes nothing on the controller's side. The added
// member's switch is connected before it joins (a booted VM's), so each add sends it its whole
// rule set (4 per peer); each removal leaves it behind, and the next add sends it everything again.
//
// At 1,000 members the cluster is then taken apart (every member removed, the cluster deleted, the
// switches gone) and the heap measured after a full GC: what a deleted cluster leaves behind.

const PROBE_PORT = 48879;
const ROUNDS = 7;
const WARMUP = 2;

const member = (i: number) => ({
  vmId: `vm${i}`,
  vint0: `10.${i >> 8}.${i & 255}.1`,
  endpoint: `172.${16 + (i >> 8)}.${i & 255}.1`,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;
/** MB of heap in use after a full GC. */
const heapMb = () => {
  collect();
  return process.memoryUsage().heapUsed / 1e6;
};

/**
 * Two views of the loop between ticks of a 1 ms timer. The main thread's CPU time between ticks:
 * how long the loop was held by the process's own work (on a shared, loaded machine the loop's
 * delay, monitorEventLoopDelay, also counts the time the process was not scheduled at all; this
 * leaves that out, and the collector's pauses spent waiting for its helper threads too). And the
 * delay between ticks less the time the main thread waited for a CPU while it could run (Linux
 * schedstat, run-queue.ts): the delay the controller itself causes, its work and its collections'
 * pauses whole, with what the machine's other processes take out; `runQueueMax` is the longest of
 * those waits.
 */
function loopWork(): {
  stop(): { p99: number; max: number; lessRunQueueP99: number; runQueueMax: number };
} {
  const blocks = createHistogram();
  const ours = createHistogram();
  let runQueueMax = 0;
  let last = process.threadCpuUsage();
  let lastAt = performance.now();
  let lastWait = runQueueMs();
  const timer = setInterval(() => {
    const now = process.threadCpuUsage();
    const at = performance.now();
    const wait = runQueueMs();
    blocks.record(Math.max(1, now.user - last.user + now.system - last.system));
    ours.record(Math.max(1, Math.round((at - lastAt - (wait - lastWait)) * 1000)));
    runQueueMax = Math.max(runQueueMax, wait - lastWait);
    last = now;
    lastAt = at;
    lastWait = wait;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return {
        p99: blocks.percentile(99) / 1000,
        max: blocks.max / 1000,
        lessRunQueueP99: ours.percentile(99) / 1000,
        runQueueMax,
      };
    },
  };
}

/**
 * Heap allocated while it runs (what was in use after it, less before, plus what each collection
 * freed meanwhile) and its young-generation collections: the scavenges that stop the loop.
 */
function allocations(): { stop(): { mb: number; scavenges: number } } {
  const profiler = new GCProfiler();
  profiler.start();
  const before = process.memoryUsage().heapUsed;
  return {
    stop() {
      const after = process.memoryUsage().heapUsed;
      let freed = 0;
      let scavenges = 0;
      for (const gc of profiler.stop()?.statistics ?? []) {
        freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
        if (gc.gcType === "Scavenge" || gc.gcType === "MinorMarkSweep") scavenges++;
      }
      return { mb: (after - before + freed) / 1e6, scavenges };
    },
  };
}

async function until(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

interface SizeFigures {
  readonly addMs: number;
  readonly removeMs: number;
  readonly rebindMs: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly workP99Ms: number;
  readonly workMaxMs: number;
  /** The delay less the waits for a CPU, p99 of the worst request; the longest wait (loopWork). */
  readonly lessRunQueueP99Ms: number;
  readonly runQueueMaxMs: number;
  readonly rssMb: number;
  /** MB allocated during each kind of request (median), and the most scavenges any request had. */
  readonly allocMb: { readonly add: number; readonly remove: number; readonly rebind: number };
  readonly scavengesMax: number;
  /** Heap after a full GC: before the cluster was created, with it, and once it was deleted. */
  readonly heapMb: { readonly before: number; readonly with: number; readonly after?: number };
}

async function measure(n: number, keepsTables: boolean, takeApart: boolean): Promise<SizeFigures> {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-bench-"));
  let running: RunningController | undefined;
  let emulator: EmulatorProcess | undefined;
  // The requests are sent, and their answers read, on a thread of their own (http-client.ts):
  // this thread is the controller's, and is what the figures measure.
  const client = new HttpClientThread();
  const call = client.call.bind(client);
  try {
    running = await startController({
      dbPath: join(dir, "controller.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "none" },
      compile: { probePort: PROBE_PORT },
      openflow: {
        tcp: { host: "127.0.0.1", port: 0 },
        // One process emulates every switch on a shared 2-core machine: while it works through the
        // setup's millions of FLOW_MODs, its echo replies and barriers can lag far beyond what a
        // real switch's would, and a dropped switch is not dialled again.
        session: { echoIntervalMs: 60_000, handshakeTimeoutMs: 300_000, requestTimeoutMs: 300_000 },
      },
    });
    const { url } = running;
    const fabric = running.openflow!.fabric;
    const before = heapMb();
    // n - 1 members, so that the added one makes n (5,000 is the most a cluster may have).
    const members = Array.from({ length: n - 1 }, (_, i) => member(i));
    // A VNI per size: the compiler's caches are the process's, and the first run's cluster (never
    // deleted) must not be counted in, or freed from, the second's heap figures.
    const vni = n;
    await call(url, "POST", "/v1/clusters", { id: "big", vni, tunnel: "vxlan", members });
    const joining = member(n - 1);
    const dpids = [...members, joining].map((m) => datapathIdFor(vni, m.vint0));
    emulator = await EmulatorProcess.start({
      controller: { host: "127.0.0.1", port: running.openflow!.addresses()[0]!.address.port },
      switches: dpids.map((dpid) => ({ dpid, keepsTable: keepsTables })),
      concurrency: 100,
      timeoutMs: 1_800_000,
    });
    await until(
      async () => (await fabric.switches()).filter((s) => s.ruleCount === (n - 2) * 4 + 1).length === n - 1,
      `${n - 1} switches programmed`,
      1_800_000,
    );
    // Niced only now: the setup (100 million FLOW_MODs at 5,000) is not measured, and a niced
    // emulator on a loaded machine took many minutes more for it.
    setPriority(emulator.pid, 19);
    // One monitor per request (one enabled again would count the pause between as a delay); the
    // figures are the worst request's p99 and the longest delay of any.
    const delay = { p99: 0, max: 0, workP99: 0, workMax: 0, lessRunQueueP99: 0, runQueueMax: 0 };
    const times = { add: [] as number[], remove: [] as number[], rebind: [] as number[] };
    const allocated = { add: [] as number[], remove: [] as number[], rebind: [] as number[] };
    let scavengesMax = 0;
    const timed = async (
      what: keyof typeof times,
      k: number,
      method: string,
      path: string,
      body?: unknown,
    ) => {
      const monitor = monitorEventLoopDelay({ resolution: 1 });
      monitor.enable();
      const work = loopWork();
      const heap = allocations();
      const ms = await call(url, method, path, body);
      const alloc = heap.stop();
      monitor.disable();
      const held = work.stop();
      if (k >= WARMUP) {
        times[what].push(ms);
        allocated[what].push(alloc.mb);
        scavengesMax = Math.max(scavengesMax, alloc.scavenges);
        delay.p99 = Math.max(delay.p99, monitor.percentile(99) / 1e6);
        delay.max = Math.max(delay.max, monitor.max / 1e6);
        delay.workP99 = Math.max(delay.workP99, held.p99);
        delay.workMax = Math.max(delay.workMax, held.max);
        delay.lessRunQueueP99 = Math.max(delay.lessRunQueueP99, held.lessRunQueueP99);
        delay.runQueueMax = Math.max(delay.runQueueMax, held.runQueueMax);
      }
      await sleep(n >= 5000 ? 1_500 : 500);
    };
    for (let k = 0; k < WARMUP + ROUNDS; k++) {
      await timed("add", k, "POST", "/v1/clusters/big/members", joining);
      await timed("remove", k, "DELETE", `/v1/clusters/big/members/${joining.vmId}`);
      const endpoint = k % 2 === 0 ? "203.0.113.1" : member(1).endpoint;
      await timed("rebind", k, "POST", "/v1/clusters/big/members/vm1/rebind", { endpoint });
    }
    const rssMb = process.memoryUsage().rss / 1e6;
    const heldWith = heapMb();
    let after: number | undefined;
    if (takeApart) {
      // The VMs go first (their switches with them), then their members and the cluster.
      await emulator.close();
      emulator = undefined;
      await until(async () => (await fabric.switches()).length === 0, "switches gone", 60_000);
      if (running.openflow!.heldRules.size !== 0) throw new Error("held rules left after the switches went");
      for (const m of members) await call(url, "DELETE", `/v1/clusters/big/members/${m.vmId}`);
      await call(url, "DELETE", "/v1/clusters/big");
      after = heapMb();
    }
    return {
      addMs: median(times.add),
      removeMs: median(times.remove),
      rebindMs: median(times.rebind),
      loopP99Ms: delay.p99,
      loopMaxMs: delay.max,
      workP99Ms: delay.workP99,
      workMaxMs: delay.workMax,
      lessRunQueueP99Ms: delay.lessRunQueueP99,
      runQueueMaxMs: delay.runQueueMax,
      rssMb,
      allocMb: {
        add: median(allocated.add),
        remove: median(allocated.remove),
        rebind: median(allocated.rebind),
      },
      scavengesMax,
      heapMb: { before, with: heldWith, ...(after !== undefined && { after }) },
    };
  } finally {
    await emulator?.close();
    await running?.close();
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Bench = {
  title: "controller: one member's add, removal and rebind at 1,000 and 5,000 members (emulated switches)",
  async run() {
    const figures: Figure[] = [];
    // 5,000 first: its resident memory is then the 5,000-member run's, not the smaller one's peak.
    for (const [n, keepsTables, takeApart] of [
      [5000, false, false],
      [1000, true, true],
    ] as const) {
      const f = await measure(n, keepsTables, takeApart);
      const size = `${n}_members`;
      const kind = keepsTables ? "keeping their tables" : "sinks";
      const how = `median of ${ROUNDS}, request round trip; all ${n} switches emulated (${kind})`;
      figures.push(
        { name: `controller.add_member_ms.${size}`, value: f.addMs, unit: `ms (${how})` },
        { name: `controller.remove_member_ms.${size}`, value: f.removeMs, unit: `ms (${how})` },
        { name: `controller.rebind_ms.${size}`, value: f.rebindMs, unit: `ms (${how}, not announced)` },
        {
          name: `controller.add_vs_rebind.${size}`,
          value: f.addMs / f.rebindMs,
          unit: "add_member_ms / rebind_ms (goal at 5,000: at most 5)",
        },
        {
          name: `controller.loop_delay_p99_ms.${size}`,
          value: f.loopP99Ms,
          unit: "ms, event-loop delay p99 of the worst measured request (goal: at most 20)",
        },
        {
          name: `controller.loop_delay_max_ms.${size}`,
          value: f.loopMaxMs,
          unit: "ms, longest event-loop delay during every measured request",
        },
        {
          name: `controller.loop_work_p99_ms.${size}`,
          value: f.workP99Ms,
          unit: "ms of the main thread's CPU between 1 ms ticks, p99 of the worst request (see loopWork)",
        },
        {
          name: `controller.loop_work_max_ms.${size}`,
          value: f.workMaxMs,
          unit: "ms of the main thread's CPU between 1 ms ticks, the longest of any request",
        },
        {
          name: `controller.loop_delay_less_run_queue_p99_ms.${size}`,
          value: f.lessRunQueueP99Ms,
          unit: "ms, event-loop delay less the main thread's waits for a CPU (Linux schedstat), p99 of the worst request: the controller's own part",
        },
        {
          name: `controller.run_queue_wait_max_ms.${size}`,
          value: f.runQueueMaxMs,
          unit: "ms the main thread waited for a CPU between two 1 ms ticks, the longest during any measured request (the machine's load)",
        },
        {
          name: `controller.alloc_mb.${size}`,
          value: f.allocMb.rebind,
          unit: `MB of heap allocated during a rebind (median; add ${f.allocMb.add.toFixed(0)}, remove ${f.allocMb.remove.toFixed(0)}), cleanup included`,
        },
        {
          name: `controller.scavenges_max.${size}`,
          value: f.scavengesMax,
          unit: "young-generation collections during the measured request that had the most",
        },
        {
          name: `controller.rss_mb.${size}`,
          value: f.rssMb,
          unit: `MB resident, the controller's process after the requests (${n} switches connected)`,
        },
        {
          name: `controller.heap_mb.${size}`,
          value: f.heapMb.with - f.heapMb.before,
          unit: "MB of heap after a full GC, the cluster and its connected switches (less the heap before)",
        },
      );
      if (f.heapMb.after !== undefined)
        figures.push({
          name: `controller.heap_left_mb.${size}`,
          value: f.heapMb.after - f.heapMb.before,
          unit: "MB of heap after a full GC once every member was removed, the cluster deleted and its switches gone (less the heap before it was created)",
        });
    }
    return figures;
  },
};
export default bench;
