import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import type { Rule } from "../../../controller/compiler/rule.ts";
import { decodeMessage } from "../../../proto/index.ts";
import { EmulatorProcess } from "../../support/switch-emulator/emulator-process.ts";
import { contents, expectedContents } from "./support/emulated.ts";
import { type OfHarness, type RebindBody, startHarness, waitFor } from "./support/harness.ts";

const N = 1000;
const PROBE = 48879;

/** Member i: vint0 in 198.18.0.0/22, endpoint in 198.19.0.0/22 (RFC 2544: TEST-NETs hold fewer than 1,000). */
const member = (i: number) => ({
  vmId: `vm${i}`,
  vint0: `198.18.${(i + 1) >> 8}.${(i + 1) & 255}`,
  endpoint: `198.19.${(i + 1) >> 8}.${(i + 1) & 255}`,
});

function rulesOf(table: Uint8Array[]): Rule[] {
  return table.map((bytes) => {
    const m = decodeMessage(bytes);
    if (m.type !== "FLOW_MOD") throw new Error("not a FLOW_MOD");
    return {
      tableId: m.tableId,
      priority: m.priority,
      cookie: m.cookie,
      match: m.match,
      instructions: m.instructions,
    };
  });
}

describe(`a ${N}-member cluster of emulated switches on 127.0.0.1 (emulator in its own process)`, () => {
  let h: OfHarness;
  let emu: EmulatorProcess | undefined;

  beforeAll(async () => {
    h = await startHarness({ probePort: PROBE });
    const members = Array.from({ length: N }, (_, i) => member(i));
    const t0 = performance.now();
    expect(
      (await h.api("POST", "/v1/clusters", { id: "big", vni: 42, tunnel: "vxlan", members })).status,
    ).toBe(201);
    const created = performance.now();
    emu = await EmulatorProcess.start({
      controller: { host: "127.0.0.1", port: h.tcpPort },
      switches: members.map((m) => ({ dpid: datapathIdFor(42, m.vint0), endpoint: m.endpoint })),
    });
    await waitFor(() => h.reconciles.length === N, `${N} reconciles`, 90_000);
    console.log(
      `${N} members: cluster created in ${(created - t0).toFixed(0)} ms; ` +
        `${N} switches connected and programmed (${N} x ${3 * (N - 1) + (N - 1) + 1} rules) in ${(performance.now() - created).toFixed(0)} ms`,
    );
  }, 120_000);

  afterAll(async () => {
    await emu?.close();
    await h?.close();
  });

  it("programs every switch with its compiled rules", async () => {
    expect(h.reconciles.filter((r) => r.result instanceof Error || r.result.status !== "updated")).toEqual(
      [],
    );
    const state = h.controller.store.clusterState("big")!;
    const picked = [0, 1, 500, N - 1];
    const tables = await emu!.tables(picked);
    picked.forEach((i, k) => {
      expect(contents(rulesOf(tables[k]!))).toEqual(expectedContents(state, `vm${i}`, { probePort: PROBE }));
    });
  });

  it("rebinds one member across all switches, make-before-break, and reports the update time", async () => {
    const times: number[] = [];
    for (const [k, endpoint] of ["203.0.113.7", "203.0.113.8", "203.0.113.9"].entries()) {
      // Apart, as rebinds of one VM are: the switches' background recounts are not update time.
      if (k > 0) await new Promise((r) => setTimeout(r, 1_200));
      const res = await h.api<RebindBody>("POST", "/v1/clusters/big/members/vm7/rebind", { endpoint });
      expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
      expect(res.body.phases.map((p) => p.switches.length)).toEqual([N, N - 1]);
      times.push(res.body.updateMs);
      const { cleanup } = await h.rebindRecord("big", "vm7", res.body.rebindId);
      expect(cleanup!.switches).toHaveLength(N - 1);
    }
    const state = h.controller.store.clusterState("big")!;
    const picked = [0, 7, N - 1];
    const tables = await emu!.tables(picked);
    picked.forEach((i, k) => {
      expect(contents(rulesOf(tables[k]!))).toEqual(expectedContents(state, `vm${i}`, { probePort: PROBE }));
    });
    const median = [...times].sort((a, b) => a - b)[1]!;
    console.log(
      `${N} emulated switches: rebind update time ${times.map((t) => t.toFixed(1)).join(", ")} ms (median ${median.toFixed(1)})`,
    );
  }, 60_000);
});
