import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import { compileSwitch } from "../../../controller/compiler/flow-compiler.ts";
import { formatRule } from "../../../controller/compiler/format.ts";
import { requirePart } from "../../support/parts.ts";
import { makeState } from "../support/fixtures.ts";
import { type OfHarness, type SwitchesBody, startHarness, waitFor } from "./support/harness.ts";
import {
  durations,
  type OvsSwitch,
  referenceFlows,
  stableFlows,
  startOvsSwitch,
  stopAllOvs,
} from "./support/ovs-switch.ts";

// The reconciler as a switch sees it: a real Open vSwitch that already holds rules when it
// connects (kept across a disconnect by fail_mode=secure, or left from an older cluster state)
// gets exactly the difference to its member's rules, and rules of others (any cookie without our
// mark) are never touched.

const PROBE = 48879;
const VNI = 42;
const members = [
  { vmId: "a", vint0: "198.18.0.1", endpoint: "192.0.2.1" },
  { vmId: "b", vint0: "198.18.0.2", endpoint: "192.0.2.2" },
];
/**
 * a's rules from an older state (another VNI, another peer), none of them right now. OVS knows a
 * flow by table, priority and match, so an ADD of ours replaces a stale rule with the same three
 * (the table-miss here): that one is left out, so each stale rule below needs a delete.
 */
const STALE = compileSwitch(
  makeState(7, [
    ["a", "198.18.0.1", "192.0.2.1"],
    ["b", "198.18.0.9", "192.0.2.99"],
  ]),
  "a",
  { probePort: PROBE },
)
  .map(formatRule)
  .filter((r) => !r.includes(",priority=0 "));
/** Rules of someone else on the same bridge: cookies near ours but without our mark in bits 63..56. */
const FOREIGN = [
  "cookie=0x77,table=0,priority=5,in_port=2,actions=drop",
  "cookie=0x1d00002a01000000,table=0,priority=99,ip,in_port=2,nw_dst=198.18.0.2,actions=drop",
  "cookie=0x1c002a01000000,table=0,priority=98,ip,in_port=2,nw_dst=198.18.0.2,actions=drop",
  "cookie=0x0,table=1,priority=100,in_port=1,actions=output:2",
];

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  stopAllOvs();
});

/** The controller with cluster "web" (a, b), and a's switch holding `held` before it ever connects. */
async function switchHolding(
  held: readonly string[],
): Promise<{ h: OfHarness; sw: OvsSwitch; desired: string[] }> {
  const h = await startHarness({ probePort: PROBE });
  cleanups.push(() => h.close());
  expect(
    (await h.api("POST", "/v1/clusters", { id: "web", vni: VNI, tunnel: "vxlan", members })).status,
  ).toBe(201);
  // Pointed at a port nobody listens on while it is filled, then at the controller.
  const sw = startOvsSwitch({ dpid: datapathIdFor(VNI, "198.18.0.1"), target: "tcp:127.0.0.1:9" });
  if (held.length > 0) {
    const file = join(sw.dir, "held.flows");
    writeFileSync(file, `${held.join("\n")}\n`);
    sw.ofctl("add-flows", sw.bridge, file);
  }
  const desired = compileSwitch(h.controller.store.clusterState("web")!, "a", { probePort: PROBE }).map(
    formatRule,
  );
  return { h, sw, desired };
}

/** Connects the switch and returns its reconcile result once the reconciler is done with it. */
async function connect(h: OfHarness, sw: OvsSwitch): Promise<unknown> {
  // Rules keep their age across the reconcile only if they were not deleted and added again.
  await new Promise((r) => setTimeout(r, 1_100));
  sw.vsctl("set-controller", sw.bridge, `tcp:127.0.0.1:${h.tcpPort}`);
  const done = await waitFor(
    () => h.reconciles.find((r) => r.session.dpid === sw.dpid),
    `reconcile of ${sw.bridge}`,
    15_000,
  );
  return done.result;
}

/** Our mark in bits 63..56 (ovs-ofctl prints cookies without leading zeros). */
const OURS = /^cookie=0x1c[0-9a-f]{14},/;
const foreignOf = (sw: OvsSwitch) => stableFlows(sw.dumpFlows()).filter((f) => !OURS.test(f));
const oursOf = (sw: OvsSwitch) => stableFlows(sw.dumpFlows()).filter((f) => OURS.test(f));

async function ruleCountOf(h: OfHarness): Promise<number | null | undefined> {
  const { switches } = (await h.api<SwitchesBody>("GET", "/v1/switches")).body;
  return switches.find((s) => s.vmId === "a" && s.connected)?.ruleCount;
}

describe.skipIf(!requirePart("ovs"))(
  "reconciling a switch that already holds rules (real Open vSwitch)",
  () => {
    it("holding only stale rules of ours: deletes every one and adds every rule", async () => {
      const { h, sw, desired } = await switchHolding(STALE);
      expect(oursOf(sw)).toHaveLength(STALE.length);
      expect(await connect(h, sw)).toMatchObject({
        status: "updated",
        added: desired.length,
        deleted: STALE.length,
      });
      expect(stableFlows(sw.dumpFlows())).toEqual(referenceFlows(sw, desired));
      expect(await ruleCountOf(h)).toBe(desired.length);
    });

    it("holding only some of its rules: adds the missing ones, deletes nothing, keeps the held ones in place", async () => {
      const { h, sw, desired } = await switchHolding(desired0().slice(0, 2));
      const before = durations(sw.dumpFlows());
      expect(before.size).toBe(2);
      expect(await connect(h, sw)).toMatchObject({
        status: "updated",
        added: desired.length - 2,
        deleted: 0,
      });
      expect(stableFlows(sw.dumpFlows())).toEqual(referenceFlows(sw, desired));
      const after = durations(sw.dumpFlows());
      for (const [flow, age] of before) expect(after.get(flow), flow).toBeGreaterThanOrEqual(age);
    });

    it("holding some right, some stale and some missing: sends exactly the difference", async () => {
      const right = desired0().slice(0, 3);
      const stale = STALE.slice(0, 2);
      const { h, sw, desired } = await switchHolding([...right, ...stale]);
      expect(await connect(h, sw)).toMatchObject({
        status: "updated",
        added: desired.length - 3,
        deleted: 2,
      });
      expect(stableFlows(sw.dumpFlows())).toEqual(referenceFlows(sw, desired));
    });

    it("leaves rules of other cookies alone, even next to stale rules of ours and in another table", async () => {
      const { h, sw, desired } = await switchHolding([...FOREIGN, ...STALE.slice(0, 1)]);
      const foreignBefore = foreignOf(sw);
      expect(foreignBefore).toHaveLength(FOREIGN.length);
      const agesBefore = durations(sw.dumpFlows());
      expect(await connect(h, sw)).toMatchObject({ status: "updated", added: desired.length, deleted: 1 });
      expect(foreignOf(sw)).toEqual(foreignBefore);
      expect(oursOf(sw)).toEqual(referenceFlows(sw, desired));
      const agesAfter = durations(sw.dumpFlows());
      for (const flow of foreignBefore)
        expect(agesAfter.get(flow), flow).toBeGreaterThanOrEqual(agesBefore.get(flow)!);
      // Counted as ours: only the member's rules.
      expect(await ruleCountOf(h)).toBe(desired.length);
    });

    it("holding exactly its rules and foreign ones: sends nothing at all", async () => {
      const { h, sw, desired } = await switchHolding([...FOREIGN, ...desired0()]);
      const before = stableFlows(sw.dumpFlows());
      expect(await connect(h, sw)).toEqual({ status: "in-sync", rules: desired.length });
      expect(stableFlows(sw.dumpFlows())).toEqual(before);
    });
  },
);

/** a's rules for the cluster as created above (what the controller will compile). */
function desired0(): string[] {
  return compileSwitch(
    makeState(
      VNI,
      members.map((m) => [m.vmId, m.vint0, m.endpoint] as const),
    ),
    "a",
    { probePort: PROBE },
  ).map(formatRule);
}
