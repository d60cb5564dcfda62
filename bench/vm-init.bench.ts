import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, configFor, targetOf } from "../test/vm-init/helpers.ts";
import { OfListener } from "../test/vm-init/of-listener.ts";
import { createSandbox, destroyAllSandboxes } from "../test/vm-init/ovs-sandbox.ts";
import { type ApplyResult, apply, teardown } from "../vm-init/index.ts";
import { type Bench, type Figure, median, quantile } from "./figures.ts";

/** Fresh applies measured in one process (as the lab's library use runs them). */
const RUNS = 30;
/** Fresh applies through the CLI inside the namespace: a booting VM's cold process. */
const CLI_RUNS = 10;

type Phase = keyof ApplyResult["timings"];
const PHASES: [Phase, string][] = [
  ["readMs", "read"],
  ["ovsMs", "ovs"],
  ["ipMs", "ip"],
  ["linkUpMs", "link_up"],
  ["controllerTxnMs", "controller_txn"],
  ["controllerMs", "connect"],
];

/**
 * DESIGN.md's linking time on a sandboxed VM (a namespace with its own ovsdb-server and
 * ovs-vswitchd, userspace datapath) with an OpenFlow listener on the host end of its link: each
 * apply starts from no bridges (teardown between runs), so every one builds icbond0, icbr0, enc0
 * and vint0, sets the addresses and waits for the controller connection.
 */
const bench: Bench = {
  title: "vm-init: linking time of fresh applies (sandboxed VM, userspace OVS, controller listening)",
  async run(): Promise<Figure[]> {
    let ctl: OfListener | undefined;
    try {
      const sb = await createSandbox();
      const host = sb.host!.hostAddress;
      ctl = await OfListener.start(host);
      const config = configFor(sb, (c) => {
        c.controller = { targets: [`tcp:${host}:${ctl!.port}`], connectTimeoutMs: 3000 };
      });
      const fresh = async () => {
        await teardown(config, targetOf(sb));
        // Let OVS drop the old controller connection before the next apply makes a new one.
        await new Promise((r) => setTimeout(r, 50));
      };
      const linked = (r: ApplyResult, how: string): number => {
        if (!r.changed || !r.controllerConnected || r.linkingMs === null) {
          throw new Error(`${how}: apply did not build and link: ${JSON.stringify(r)}`);
        }
        return r.linkingMs;
      };

      // Warm-up: the first bridge also creates OVS's userspace datapath; the process's code warms.
      await apply(config, targetOf(sb));
      const runs: ApplyResult[] = [];
      for (let i = 0; i < RUNS; i++) {
        await fresh();
        runs.push(await apply(config, targetOf(sb)));
      }
      const linking = runs.map((r) => linked(r, "in-process"));

      const file = join(sb.dir, "vm-init.json");
      writeFileSync(file, JSON.stringify(config));
      const cold: number[] = [];
      for (let i = 0; i < CLI_RUNS; i++) {
        await fresh();
        const out = await cli(sb, ["apply", "--config", file]);
        if (out.exitCode !== 0) throw new Error(`CLI apply failed: ${out.stderr}`);
        cold.push(linked(JSON.parse(out.stdout) as ApplyResult, "CLI"));
      }

      return [
        { name: "vm_init.linking_ms.median", value: median(linking), unit: "ms" },
        { name: "vm_init.linking_ms.p95", value: quantile(linking, 0.95), unit: "ms" },
        { name: "vm_init.linking_ms.min", value: quantile(linking, 0), unit: "ms" },
        ...PHASES.map(([key, name]) => ({
          name: `vm_init.phase.${name}_ms.median`,
          value: median(runs.map((r) => r.timings[key])),
          unit: "ms",
        })),
        { name: "vm_init.spawns_per_apply", value: median(runs.map((r) => r.spawns)), unit: "processes" },
        { name: "vm_init.cli.linking_ms.median", value: median(cold), unit: "ms (cold process per apply)" },
        {
          name: "vm_init.cli.linking_ms.p95",
          value: quantile(cold, 0.95),
          unit: "ms (cold process per apply)",
        },
      ];
    } finally {
      await ctl?.close();
      await destroyAllSandboxes();
    }
  },
};
export default bench;
