import { datapathIdFor } from "../contract/dataplane/index.ts";
import { RulePlanner } from "../controller/compiler/rule-planner.ts";
import type { SwitchBatch } from "../controller/compiler/transition-planner.ts";
import { batchFrames } from "../controller/openflow/batch-frames.ts";
import { EmulatorProcess } from "../test/support/switch-emulator/emulator-process.ts";
import {
  type BenchController,
  benchController,
  member,
  PROBE_PORT,
  roundRatios,
  sleep,
  until,
  updateFigures,
} from "./bench-controller.ts";
import { type Bench, type Figure, median } from "./figures.ts";
import { FloorController } from "./peer/floor-controller.ts";

// Update time (DESIGN.md: rebind received -> every affected switch's barrier reply), as the REST
// API reports it, for one member moving in a cluster of 1,000 emulated switches, each its own TCP
// connection on 127.0.0.1. The switches run in a process of their own (EmulatorProcess), so the
// controller's figure does not share an event loop with the switches it measures. Each switch
// also dials a bare OpenFlow speaker: the floor is one barrier to all 1,000 in parallel, taken in
// the same rounds. The raw bundles: that speaker writes our switch phase's own bundles (the same
// FLOW_MODs, bundle framing and barrier, from our planner and batch-frames.ts) over those
// connections in one turn, as it writes the floor's barriers (in the emulator's process, each is
// an emulated switch with its own table): what the switches take for that work, with no
// controller around it. Rebinds are spaced so that one rebind's background rule recounts do not
// fall into the next one; the first two rounds warm the JIT up and are not counted.

const N = 1000;
const WARMUP = 2;
const ROUNDS = 7;
const GAP_MS = 1_500;

interface Rounds {
  announced: number[];
  bare: number[];
  floor: number[];
  rawBundles: number[];
}

async function emulated(): Promise<{ rounds: Rounds; setupMs: number }> {
  // Each part started is stopped, whichever of them fails to start.
  const parts: { ours?: BenchController; floor?: FloorController; emu?: EmulatorProcess } = {};
  try {
    const ours = await benchController();
    parts.ours = ours;
    const floor = await FloorController.listen();
    parts.floor = floor;
    const members = Array.from({ length: N }, (_, i) => member(i));
    await ours.call("/v1/clusters", { id: "big", vni: 42, tunnel: "vxlan", members });
    const started = performance.now();
    parts.emu = await EmulatorProcess.start({
      controller: { host: "127.0.0.1", port: ours.port },
      floor: { host: "127.0.0.1", port: floor.port },
      switches: members.map((m) => ({ dpid: datapathIdFor(42, m.vint0), endpoint: m.endpoint })),
    });
    await until(
      async () => {
        const switches = await ours.server.fabric.switches();
        return switches.length === N && switches.every((s) => s.ruleCount !== null);
      },
      "every switch programmed",
      120_000,
    );
    const setupMs = performance.now() - started;
    await until(() => floor.switches === N, "every switch connected to the floor speaker", 30_000);

    const planner = new RulePlanner({ probePort: PROBE_PORT });
    const rounds: Rounds = { announced: [], bare: [], floor: [], rawBundles: [] };
    for (let k = 0; k < WARMUP + ROUNDS; k++) {
      const there = "203.0.113.1";
      await ours.announce("vm1", there);
      // Our switch phase, as the rebind below plans it (prepare, switch, cleanup).
      const switchPhase = planner.rebind(ours.running.store.clusterState("big")!, "vm1", there)[1];
      await sleep(GAP_MS);
      const announced = await ours.rebind("vm1", there);
      await sleep(GAP_MS);
      const floorMs = await floor.barrierRound();
      await sleep(GAP_MS);
      const rawMs = await rawBundles(floor, switchPhase.batches);
      await sleep(GAP_MS);
      const bare = await ours.rebind("vm1", "203.0.113.2");
      await sleep(GAP_MS);
      if (k < WARMUP) continue;
      rounds.announced.push(announced);
      rounds.floor.push(floorMs);
      rounds.rawBundles.push(rawMs);
      rounds.bare.push(bare);
    }
    return { rounds, setupMs };
  } finally {
    await parts.emu?.close();
    await parts.floor?.close();
    await parts.ours?.close();
  }
}

/** The floor speaker writes `batches` as our session would: one committed bundle and a barrier each. */
function rawBundles(floor: FloorController, batches: readonly SwitchBatch[]): Promise<number> {
  const byDpid = new Map(batches.map((b) => [b.dpid, b]));
  let bundleId = 0;
  return floor.rawRound([...byDpid.keys()], (dpid, nextXid) =>
    batchFrames(byDpid.get(dpid)!, ++bundleId, nextXid),
  );
}

const bench: Bench = {
  title: "controller: rebind update time, 1,000 emulated switches over TCP (their own process)",
  async run(): Promise<Figure[]> {
    const { rounds: r, setupMs } = await emulated();
    const how = `median of ${ROUNDS} rounds`;
    return [
      ...updateFigures(`${N}_members`, r.announced, r.bare, how),
      {
        name: `floor.barrier_ms.${N}_members`,
        value: median(r.floor),
        unit: `ms (${how}, one barrier to every switch)`,
      },
      {
        name: `floor.raw_bundles_ms.${N}_members`,
        value: median(r.rawBundles),
        unit: `ms (${how}, our switch phase's bundles written by the bare speaker)`,
      },
      {
        name: `controller.vs_floor.${N}`,
        value: median(roundRatios(r.announced, r.floor)),
        unit: "x (ours announced / floor, per round; goal <= 2)",
      },
      {
        name: `floor.raw_bundles_vs_barrier.${N}`,
        value: median(roundRatios(r.rawBundles, r.floor)),
        unit: "x (raw bundles / floor, per round: what the switches add to apply the rules)",
      },
      {
        name: `controller.vs_raw_bundles.${N}`,
        value: median(roundRatios(r.announced, r.rawBundles)),
        unit: "x (ours announced / raw bundles, per round: what our controller adds)",
      },
      {
        name: `controller.setup_ms.${N}_members`,
        value: setupMs,
        unit: "ms to connect and program 1,000 switches",
      },
    ];
  },
};
export default bench;
