import {
  type ControllerProcess,
  createLabCluster,
  freePort,
  labRest,
  probeStream,
  removeDb,
  startControllerProcess,
  waitSwitchesConverged,
} from "../lab/controller-lab.ts";
import { down, move, release, status, up } from "../lab/lab.ts";
import { controllerTarget } from "../lab/plan.ts";
import { type Bench, type Figure, median, quantile } from "./figures.ts";

// The controller against the lab (real OVS per VM, real NAT): vm1 moves back and forth between
// two clouds with its source kept; its new floating IP is announced as its next endpoint (as a
// mediator does), then a probe stream (lab/probe.ts, 1,000 packets/s) runs from the last VM to vm1
// and the controller rebinds vm1 to its new floating IP in the middle.
// Per cluster size: update time (the rebind's updateMs), downtime (the stream's longest gap) and
// lost probes. Sizes: ICSDN_BENCH_LAB_SIZES (total VMs, even, default "2,4,16"),
// rebinds per size: ICSDN_BENCH_LAB_REBINDS (default 7).

const LAB = "bnch";
const CLUSTER = "bench";

/** Longest gap of a stream without a rebind, per size. */
const baseline = new Map<number, number>();
/**
 * Every cold boot (each VM at lab up and each new instance of a move: a fresh OVS and a cold CLI
 * process, vm-init creating vint0, enc0, icbr0, icbond0 and eth0's port), what the demo prints:
 * the paper's linking time (vm-init's network step start -> the five configured: its answer's
 * configuredMs), and DESIGN.md's, which also waits for icbr0 to connect (linkingMs).
 */
const linking: number[] = [];
const linkingConnected: number[] = [];

function recordLinking(vm?: string): void {
  for (const v of status(LAB).vms) {
    if (vm !== undefined && v.name !== vm) continue;
    const r = v.instances.find((i) => i.role === "current")?.vmInit;
    if (r?.linkingMs == null) continue;
    linking.push(r.configuredMs);
    linkingConnected.push(r.linkingMs);
  }
}

interface Sample {
  readonly updateMs: number;
  readonly downtimeMs: number;
  readonly probeDowntimeMs: number | null;
  readonly lost: number;
}

async function measure(vms: number, rebinds: number): Promise<Sample[]> {
  let ctl: ControllerProcess | undefined;
  const samples: Sample[] = [];
  try {
    const port = await freePort();
    ctl = await startControllerProcess({ openflowPort: port });
    await down(LAB);
    await up(LAB, {
      clouds: 2,
      vmsPerCloud: vms / 2,
      tunnel: "vxlan",
      wanMbit: null,
      nics: 1,
      controllers: [controllerTarget(`host:${port}`)],
      vni: 42,
      clusterId: CLUSTER,
      controllerRest: labRest(ctl),
    });
    recordLinking();
    const st = status(LAB);
    const names = st.vms.map((v) => v.name);
    const peer = names.at(-1)!;
    await createLabCluster(ctl.client, st, CLUSTER);
    await waitSwitchesConverged(ctl.client, CLUSTER, names, 30_000);
    const client = ctl.client;
    // The stream's own noise floor: its longest gap with no rebind at all (timer jitter of two
    // Node processes and the userspace datapaths on a shared machine).
    const { stream: idle } = await probeStream(
      LAB,
      peer,
      "vm1",
      { rate: 1000, count: 1500, leadMs: 100 },
      async () => {},
    );
    baseline.set(vms, idle.longestGapMs);
    console.log(
      `  ${vms} VMs, no rebind: stream gap ${idle.longestGapMs.toFixed(1)} ms, lost ${idle.lost}/${idle.sent}`,
    );
    for (let i = 0; i < rebinds; i++) {
      const from = status(LAB).vms.find((v) => v.name === "vm1")?.cloud;
      await move(LAB, "vm1", from === "a" ? "b" : "a", true);
      recordLinking("vm1");
      const endpoint = status(LAB).vms.find((v) => v.name === "vm1")?.floatingIp;
      if (!endpoint) throw new Error("vm1 has no floating IP after its move");
      // As a mediator does once the target has its address: peers accept it before the rebind.
      await client.announceNextEndpoint(CLUSTER, "vm1", endpoint);
      await waitSwitchesConverged(client, CLUSTER, names, 30_000);
      const { stream, during } = await probeStream(
        LAB,
        peer,
        "vm1",
        { rate: 1000, count: 1500, leadMs: 500 },
        () => client.rebind(CLUSTER, "vm1", endpoint),
      );
      // Answered at update time; cleanup and the controller's probes complete its history record.
      const record =
        during.rebindId === null
          ? null
          : await client.getRebind(CLUSTER, "vm1", during.rebindId, { settled: true });
      samples.push({
        updateMs: during.updateMs,
        downtimeMs: stream.longestGapMs,
        probeDowntimeMs: record?.downtime?.ms ?? null,
        lost: stream.lost,
      });
      console.log(
        `  ${vms} VMs, rebind ${i + 1}/${rebinds}: update ${during.updateMs.toFixed(1)} ms (total ${record?.totalMs?.toFixed(1) ?? "-"}), stream gap ${stream.longestGapMs.toFixed(
          1,
        )} ms, controller probes ${record?.downtime?.ms.toFixed(1) ?? "-"} ms, lost ${stream.lost}/${stream.sent}`,
      );
      await release(LAB, "vm1");
    }
    return samples;
  } finally {
    await down(LAB).catch((err: unknown) => console.error("lab down:", err));
    if (ctl) {
      await ctl.stop();
      removeDb(ctl.dbPath);
    }
  }
}

function figuresFor(vms: number, samples: Sample[]): Figure[] {
  const update = samples.map((s) => s.updateMs);
  const gap = samples.map((s) => s.downtimeMs);
  const probes = samples.flatMap((s) => (s.probeDowntimeMs === null ? [] : [s.probeDowntimeMs]));
  const n = `${vms}vm`;
  const figures: Figure[] = [
    { name: `controller.update_ms.median.${n}`, value: median(update), unit: "ms" },
    { name: `controller.update_ms.p95.${n}`, value: quantile(update, 0.95), unit: "ms" },
    { name: `controller.downtime_ms.median.${n}`, value: median(gap), unit: "ms" },
    { name: `controller.downtime_ms.max.${n}`, value: Math.max(...gap), unit: "ms" },
    { name: `controller.lost_probes.${n}`, value: samples.reduce((a, s) => a + s.lost, 0), unit: "packets" },
  ];
  const idle = baseline.get(vms);
  if (idle !== undefined)
    figures.push({ name: `controller.stream_gap_ms.no_rebind.${n}`, value: idle, unit: "ms" });
  if (probes.length > 0)
    figures.push({ name: `controller.probe_downtime_ms.median.${n}`, value: median(probes), unit: "ms" });
  return figures;
}

const bench: Bench = {
  title: "controller + lab: rebinds of a moving VM under a 1,000 packets/s probe stream (VXLAN)",
  async run(): Promise<Figure[]> {
    const sizes = (process.env.ICSDN_BENCH_LAB_SIZES ?? "2,4,16").split(",").map(Number);
    const rebinds = Number(process.env.ICSDN_BENCH_LAB_REBINDS ?? "7");
    for (const s of sizes) {
      if (!Number.isInteger(s) || s < 2 || s % 2 !== 0 || s > 32)
        throw new Error(`ICSDN_BENCH_LAB_SIZES: ${s} is no even size 2..32`);
    }
    if (!Number.isInteger(rebinds) || rebinds < 1 || rebinds > 50)
      throw new Error("ICSDN_BENCH_LAB_REBINDS must be 1..50");
    const figures: Figure[] = [];
    for (const vms of sizes) figures.push(...figuresFor(vms, await measure(vms, rebinds)));
    figures.push(
      {
        name: "lab.linking_ms.median",
        value: median(linking),
        unit: `ms (the five interfaces configured, median of ${linking.length} cold boots)`,
      },
      { name: "lab.linking_ms.p95", value: quantile(linking, 0.95), unit: "ms" },
      {
        name: "lab.linking_connected_ms.median",
        value: median(linkingConnected),
        unit: `ms (and icbr0 connected, median of ${linkingConnected.length} cold boots)`,
      },
      { name: "lab.linking_connected_ms.p95", value: quantile(linkingConnected, 0.95), unit: "ms" },
    );
    return figures;
  },
};
export default bench;
