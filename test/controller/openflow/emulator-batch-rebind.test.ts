import { afterEach, describe, expect, it } from "vitest";
import type { BatchRebindReport } from "../../../contract/controller-api/index.ts";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import { EmulatedNetwork } from "../../support/switch-emulator/dataplane.ts";
import { SwitchEmulator } from "../../support/switch-emulator/emulator.ts";
import { contents, expectedContents, tableRules } from "./support/emulated.ts";
import { type OfHarness, reconciledCount, startHarness, waitFor } from "./support/harness.ts";

// A batch rebind's downtime probes, per member as for a single rebind, on emulated switches whose
// data plane carries tunnels (OVS's dummy datapath, in ovs-batch-rebind.test.ts, delivers none).

const PROBE = 48879;
const probes = { probePort: PROBE };
const dpid = (vint0: string) => datapathIdFor(42, vint0);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(): Promise<OfHarness> {
  const h = await startHarness({ probePort: PROBE });
  cleanups.push(() => h.close());
  return h;
}

describe("batch rebind on emulated switches", () => {
  it("measures each moved member's downtime in its own record, the other mover probing from its new instance", async () => {
    const h = await harness();
    const members = [1, 2, 3].map((i) => ({
      vmId: `vm${i}`,
      vint0: `198.18.0.${i}`,
      endpoint: `192.0.2.${i}`,
    }));
    await h.api("POST", "/v1/clusters", { id: "web", vni: 42, tunnel: "vxlan", members });
    const network = new EmulatedNetwork();
    const emu = new SwitchEmulator({ controller: { host: "127.0.0.1", port: h.tcpPort }, network });
    cleanups.push(() => emu.close());
    const [, old2, old3] = members.map((m) => emu.add({ dpid: dpid(m.vint0), endpoint: m.endpoint }));
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 3, "reconciles");
    const fresh2 = emu.add({ dpid: dpid("198.18.0.2"), endpoint: "203.0.113.2" });
    const fresh3 = emu.add({ dpid: dpid("198.18.0.3"), endpoint: "203.0.113.3" });
    await emu.connectAll();
    await waitFor(() => reconciledCount(h) === 5, "the new instances' reconciles");
    for (const i of [2, 3]) {
      const res = await h.api("PUT", `/v1/clusters/web/members/vm${i}/next-endpoint`, {
        endpoint: `203.0.113.${i}`,
      });
      expect(res.status).toBe(200);
    }
    const oldRules = [old2, old3].map((sw) => contents(tableRules(sw!)));
    const res = await h.api<BatchRebindReport>("POST", "/v1/clusters/web/rebinds", {
      rebinds: [
        { vmId: "vm2", endpoint: "203.0.113.2" },
        { vmId: "vm3", endpoint: "203.0.113.3" },
      ],
    });
    expect(res.status).toBe(200);
    const records = await Promise.all(res.body.rebinds.map((r) => h.rebindRecord("web", r.vmId, r.rebindId)));
    expect(records.map((r) => r.downtime?.links.map((l) => `${l.from}->${l.to}`))).toEqual([
      ["vm1->vm2", "vm3->vm2"],
      ["vm1->vm3", "vm2->vm3"],
    ]);
    for (const r of records) {
      for (const link of r.downtime!.links)
        expect(link.received, `${link.from}->${link.to}`).toBeGreaterThan(0);
      expect(r.downtime!.ms).toBeLessThan(100);
    }
    // The probes reached the new instances, and the old ones were never touched.
    expect(fresh2.counters.packetIns).toBeGreaterThan(0);
    expect(fresh3.counters.packetIns).toBeGreaterThan(0);
    expect([old2, old3].map((sw) => contents(tableRules(sw!)))).toEqual(oldRules);
    const after = h.controller.store.clusterState("web")!;
    expect(contents(tableRules(fresh2))).toEqual(expectedContents(after, "vm2", probes));
    expect(contents(tableRules(fresh3))).toEqual(expectedContents(after, "vm3", probes));
    const metrics = await (await fetch(`${h.controller.url}/metrics`)).text();
    expect(metrics).toMatch(/^icsdn_downtime_seconds_count 2$/m);
    expect(h.server.probes.active).toBe(0);
  });
});
