/**
 * Measures DESIGN.md's linking time: 20 applies on fresh bridges (torn down in between) with a
 * controller listening, in-process as the lab's library use would run it, and a few through the
 * CLI inside the namespace as a booting VM runs it. Prints median and p95; asserts only that
 * every apply linked (timings depend on the machine's load).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApplyResult, apply, teardown, type VmInitConfig } from "../../vm-init/index.ts";
import { cli, configFor, targetOf } from "./helpers.ts";
import { OfListener } from "./of-listener.ts";
import { createSandbox, destroyAllSandboxes, type OvsSandbox } from "./ovs-sandbox.ts";

let sb: OvsSandbox;
let ctl: OfListener;
let config: VmInitConfig;

beforeAll(async () => {
  sb = await createSandbox();
  ctl = await OfListener.start(sb.host!.hostAddress);
  config = configFor(sb, (c) => {
    c.controller = { targets: [`tcp:${sb.host!.hostAddress}:${ctl.port}`], connectTimeoutMs: 3000 };
  });
});
afterAll(async () => {
  await ctl?.close();
  await destroyAllSandboxes();
});

function stats(xs: number[]): { median: number; p95: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95), min: s[0]!, max: s.at(-1)! };
}

async function fresh(): Promise<void> {
  await teardown(config, targetOf(sb));
  // Let OVS drop the old controller connection before the next apply makes a new one.
  await new Promise((r) => setTimeout(r, 50));
}

describe("linking time", () => {
  it("20 applies on fresh bridges, in-process", { timeout: 120_000 }, async () => {
    // One warm-up: the first netdev bridge also creates OVS's userspace datapath.
    await apply(config, targetOf(sb));
    const runs: ApplyResult[] = [];
    for (let i = 0; i < 20; i++) {
      await fresh();
      runs.push(await apply(config, targetOf(sb)));
    }
    expect(runs.every((r) => r.controllerConnected && r.changed)).toBe(true);
    const linking = stats(runs.map((r) => r.linkingMs!));
    const phase = (k: keyof ApplyResult["timings"]) => stats(runs.map((r) => r.timings[k])).median;
    console.log(
      `linking (in-process, 20 fresh applies): median ${linking.median} ms, p95 ${linking.p95} ms, ` +
        `min ${linking.min}, max ${linking.max}; phase medians: read ${phase("readMs")}, ovs ${phase("ovsMs")}, ` +
        `ip ${phase("ipMs")}, link up ${phase("linkUpMs")}, controller txn ${phase("controllerTxnMs")}, ` +
        `connect ${phase("controllerMs")} ms; spawns ${runs[0]!.spawns}; devices from ${runs[0]!.devicesFrom}`,
    );
    expect(linking.median).toBeLessThan(1000);
  });

  it("a few applies through the CLI, as a booting VM runs it", { timeout: 120_000 }, async () => {
    const file = join(sb.dir, "vm-init.json");
    writeFileSync(file, JSON.stringify(config));
    const linking: number[] = [];
    for (let i = 0; i < 5; i++) {
      await fresh();
      const r = await cli(sb, ["apply", "--config", file]);
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout) as ApplyResult;
      expect(out.controllerConnected).toBe(true);
      linking.push(out.linkingMs!);
    }
    const s = stats(linking);
    console.log(`linking (CLI in the namespace, 5 fresh applies): median ${s.median} ms, max ${s.max} ms`);
  });
});
