import { spawnSync } from "node:child_process";
import { datapathIdFor } from "../contract/dataplane/index.ts";
import { RulePlanner } from "../controller/compiler/rule-planner.ts";
import type { SwitchBatch } from "../controller/compiler/transition-planner.ts";
import { batchFrames } from "../controller/openflow/batch-frames.ts";
import { startOvsSwitch, stopAllOvs } from "../test/controller/openflow/support/ovs-switch.ts";
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
import { OskenPeer, oskenAvailable } from "./peer/osken.ts";

// Ours against a peer and the floor, side by side on the same real Open vSwitch bridges (one
// private ovsdb-server + ovs-vswitchd per bridge, OVS's dummy datapath). Every bridge dials three
// controllers: ours, Debian's os-ken doing the same switch round as our rebind (bench/peer/
// osken_rebind.py: the moved member's ip and arp egress rules on every peer, MODIFY_STRICT, then
// a barrier), and a bare OpenFlow speaker for the floor (one barrier to every switch in parallel).
// Each round runs ours (announced, as a mediator does), os-ken, the floor, the raw bundles, a read,
// a write, and ours bare, one after the other, so the ratios are taken round by round on the same
// machine state. Ours is timed as the REST API reports it (updateMs: request received -> last
// barrier reply); the REST answer's own arrival, as the caller sees it (request sent -> answer
// read, HTTP both ways), is rest_answer_ms. The answer comes at update time; cleanup and the
// probes' tail follow it. The raw bundles: the floor speaker writes our switch phase's own bundles
// (the same FLOW_MODs, bundle framing and barrier, from our planner and batch-frames.ts) to the
// same switches once ours has applied them (re-adding identical rules changes nothing): what
// OVS itself takes for that work, with no controller around it. The read (GET of a member: HTTP
// both ways, no store write) and the durable write (PATCH of a member's description: HTTP, a
// commit and its WAL sync, as every write is answered; no switch is involved) come from the same
// client and split the REST answer's time above the update.

const WARMUP = 2;
const ROUNDS = 9;
/** Between two operations: one's background work (rule recounts) stays out of the next. */
const GAP_MS = 200;
const ENDPOINTS = ["203.0.113.1", "203.0.113.2"] as const;

interface Rounds {
  announced: number[];
  bare: number[];
  restAnswer: number[];
  osken: number[];
  floor: number[];
  rawBundles: number[];
  read: number[];
  write: number[];
}

async function sideBySide(n: number): Promise<Rounds> {
  // Each part started is stopped, whichever of them fails to start.
  const parts: { ours?: BenchController; osken?: OskenPeer; floor?: FloorController } = {};
  try {
    const ours = await benchController();
    parts.ours = ours;
    const osken = await OskenPeer.start();
    parts.osken = osken;
    const floor = await FloorController.listen();
    parts.floor = floor;
    const members = Array.from({ length: n }, (_, i) => member(i));
    const dpids = members.map((m) => datapathIdFor(42, m.vint0));
    const created = await ours.call("/v1/clusters", { id: "big", vni: 42, tunnel: "vxlan", members });
    if (created.status !== 201) throw new Error(`cluster create answered ${created.status}`);
    for (const dpid of dpids) {
      const sw = startOvsSwitch({ dpid, target: `tcp:127.0.0.1:${ours.port}` });
      sw.vsctl(
        ...["--", "--id=@o", "create", "controller", `target="tcp:127.0.0.1:${osken.ofPort}"`],
        ...["--", "--id=@f", "create", "controller", `target="tcp:127.0.0.1:${floor.port}"`],
        ...["--", "add", "bridge", sw.bridge, "controller", "@o", "@f"],
      );
    }
    await until(
      async () => (await ours.server.fabric.switches()).filter((s) => s.ruleCount !== null).length === n,
      "every bridge programmed by ours",
      30_000,
    );
    await until(async () => (await osken.switches()) === n, "every bridge connected to os-ken", 30_000);
    await until(() => floor.switches === n, "every bridge connected to the floor speaker", 30_000);
    await osken.setup(
      42,
      members.map((m, i) => ({ dpid: dpids[i]!, vint0: m.vint0, endpoint: m.endpoint })),
    );

    const planner = new RulePlanner({ probePort: PROBE_PORT });
    const rounds: Rounds = {
      announced: [],
      bare: [],
      restAnswer: [],
      osken: [],
      floor: [],
      rawBundles: [],
      read: [],
      write: [],
    };
    for (let k = 0; k < WARMUP + ROUNDS; k++) {
      const keep = k >= WARMUP;
      const [there, back] = ENDPOINTS;
      await ours.announce("vm0", there);
      // Our switch phase, as the rebind below plans it (prepare, switch, cleanup).
      const switchPhase = planner.rebind(ours.running.store.clusterState("big")!, "vm0", there)[1];
      await sleep(GAP_MS);
      const asked = performance.now();
      const announced = await ours.rebind("vm0", there);
      const answeredMs = performance.now() - asked;
      await sleep(GAP_MS);
      const oskenMs = await osken.rebind(dpids[0]!, k % 2 === 0 ? there : back);
      await sleep(GAP_MS);
      const floorMs = await floor.barrierRound();
      await sleep(GAP_MS);
      const rawMs = await rawBundles(floor, switchPhase.batches);
      await sleep(GAP_MS);
      const readMs = await timed(() => ours.call("/v1/clusters/big/members/vm1", undefined, "GET"));
      await sleep(GAP_MS);
      const writeMs = await timed(() =>
        ours.call("/v1/clusters/big/members/vm1", { description: `round ${k}` }, "PATCH"),
      );
      await sleep(GAP_MS);
      const bare = await ours.rebind("vm0", back);
      await sleep(GAP_MS);
      if (!keep) continue;
      rounds.announced.push(announced);
      rounds.restAnswer.push(answeredMs);
      rounds.osken.push(oskenMs);
      rounds.floor.push(floorMs);
      rounds.rawBundles.push(rawMs);
      rounds.read.push(readMs);
      rounds.write.push(writeMs);
      rounds.bare.push(bare);
    }
    return rounds;
  } finally {
    await parts.osken?.close();
    await parts.floor?.close();
    stopAllOvs();
    await parts.ours?.close();
  }
}

/** How long `call` takes as its caller sees it; throws unless it answered 200. */
async function timed(call: () => Promise<{ status: number }>): Promise<number> {
  const start = performance.now();
  const { status } = await call();
  const ms = performance.now() - start;
  if (status !== 200) throw new Error(`answered ${status}`);
  return ms;
}

/** The floor speaker writes `batches` as our session would: one committed bundle and a barrier each. */
function rawBundles(floor: FloorController, batches: readonly SwitchBatch[]): Promise<number> {
  const byDpid = new Map(batches.map((b) => [b.dpid, b]));
  let bundleId = 0;
  return floor.rawRound([...byDpid.keys()], (dpid, nextXid) =>
    batchFrames(byDpid.get(dpid)!, ++bundleId, nextXid),
  );
}

function figures(n: number, r: Rounds): Figure[] {
  const how = `median of ${ROUNDS} rounds, ${n} real OVS bridges`;
  const ratio = (a: number[], b: number[]) => median(roundRatios(a, b));
  return [
    ...updateFigures(`${n}_members`, r.announced, r.bare, how),
    {
      name: `peer.osken.update_ms.${n}_members`,
      value: median(r.osken),
      unit: `ms (${how}, os-ken MODIFY_STRICT + barrier)`,
    },
    {
      name: `floor.barrier_ms.${n}_members`,
      value: median(r.floor),
      unit: `ms (${how}, one barrier to every bridge)`,
    },
    {
      name: `floor.raw_bundles_ms.${n}_members`,
      value: median(r.rawBundles),
      unit: `ms (${how}, our switch phase's bundles written by the bare speaker)`,
    },
    {
      name: `floor.raw_bundles_vs_barrier.${n}`,
      value: ratio(r.rawBundles, r.floor),
      unit: "x (raw bundles / floor, per round: what OVS adds to apply the rules)",
    },
    {
      name: `controller.vs_raw_bundles.${n}`,
      value: ratio(r.announced, r.rawBundles),
      unit: "x (ours announced / raw bundles, per round: what our controller adds)",
    },
    {
      name: `controller.vs_osken.${n}`,
      value: ratio(r.announced, r.osken),
      unit: "x (ours announced / os-ken, per round; goal <= 0.5)",
    },
    {
      name: `controller.vs_osken.bare.${n}`,
      value: ratio(r.bare, r.osken),
      unit: "x (ours bare / os-ken, per round)",
    },
    {
      name: `controller.vs_floor.${n}`,
      value: ratio(r.announced, r.floor),
      unit: "x (ours announced / floor, per round; goal <= 2)",
    },
    {
      name: `controller.rest_answer_ms.${n}`,
      value: median(r.restAnswer),
      unit: `ms (${how}, request sent -> answer read, announced)`,
    },
    {
      name: `controller.read_answer_ms.${n}`,
      value: median(r.read),
      unit: `ms (${how}, GET of a member, request sent -> answer read)`,
    },
    {
      name: `controller.write_answer_ms.${n}`,
      value: median(r.write),
      unit: `ms (${how}, PATCH of a member's description: commit + WAL sync, request sent -> answer read)`,
    },
    {
      name: `controller.rest_answer_over_update_vs_write.${n}`,
      value: median(r.restAnswer.map((a, i) => (a - r.announced[i]!) / r.write[i]!)),
      unit: "x ((REST answer - update time) / durable write's answer, per round)",
    },
    {
      name: `controller.rest_answer_vs_update.${n}`,
      value: ratio(r.restAnswer, r.announced),
      unit: "x (REST answer / update time, per round; goal <= 2)",
    },
  ];
}

const bench: Bench = {
  title: "controller against os-ken and the floor, side by side on real OVS bridges",
  async run() {
    if (spawnSync("ovs-vswitchd", ["--version"]).status !== 0)
      throw new Error("Open vSwitch is not installed");
    if (!oskenAvailable()) throw new Error("os-ken is not installed (python3-os-ken)");
    const out: Figure[] = [];
    for (const n of [4, 16]) out.push(...figures(n, await sideBySide(n)));
    return out;
  },
};
export default bench;
