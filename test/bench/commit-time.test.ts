import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timeCommit } from "../../bench/support/commit-time.ts";
import { withoutSdn } from "../../bench/support/sdn-off.ts";
import {
  type ControllerProcess,
  freePort,
  removeDb,
  startControllerProcess,
} from "../../lab/controller-lab.ts";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import { stopAllOvs } from "../controller/openflow/support/ovs-switch.ts";

// The commit bench's machinery (bench/support/commit-time.ts) against the real controller process
// and real OVS switches: a cluster migration by the real coordinator over in-memory clouds.
describe("the atomic commit's bench", () => {
  let ctl: ControllerProcess;

  beforeAll(async () => {
    ctl = await startControllerProcess({ openflowPort: await freePort() });
  });

  afterAll(async () => {
    stopAllOvs();
    await ctl?.stop();
    if (ctl) removeDb(ctl.dbPath);
  });

  it("moves every member through the controller's rebind and times the commit's parts in order, in both modes", async () => {
    for (const batch of [true, false]) {
      const round = await timeCommit(ctl, 3, `t1-${batch}`, { batch });
      expect(round.batches).toBe(batch ? 1 : 0);
      expectInOrder(round);
      // It cleaned up: the next round can use the cluster's name again.
      expect((await ctl.client.listClusters()).map((c) => c.id)).not.toContain(`commit-t1-${batch}`);
    }
  }, 90_000);

  function expectInOrder(round: Awaited<ReturnType<typeof timeCommit>>): void {
    // NaN here: some member has no rebind at the controller.
    expect(round.maxUpdateMs).toBeGreaterThan(0);
    expect(round.firstRequestMs).toBeGreaterThanOrEqual(0);
    expect(round.lastRequestMs).toBeGreaterThanOrEqual(round.firstRequestMs);
    expect(round.lastAnswerMs).toBeGreaterThan(round.lastRequestMs);
    // The coordinator's commitMs ends at the last `rebound` event, journaled after the answer.
    expect(round.commitMs).toBeGreaterThanOrEqual(Math.floor(round.lastAnswerMs));
    // No member is rebound sooner than the runner's switch settle (1 s by default) after its new
    // switch connected: its kernel's unanswered ARP requests are retried by then.
    expect(round.minSettleMs).toBeGreaterThanOrEqual(1000);
  }

  it("without the SDN, nothing reaches the controller but the members' lookup", async () => {
    const token = readFileSync(ctl.tokenFile, "utf8").trim();
    const port = withoutSdn(new ControllerClientPort({ url: ctl.url, token }));
    await ctl.client.createCluster({
      id: "nosdn-t",
      vni: 4999,
      tunnel: "vxlan",
      members: [{ vmId: "nosdn-t-m1", vint0: "10.81.0.1", endpoint: "192.0.2.10" }],
    });
    expect((await port.findMember("nosdn-t-m1"))?.member.endpoint).toBe("192.0.2.10");
    await port.announce("nosdn-t", "nosdn-t-m1", "198.51.100.10");
    await port.rebind("nosdn-t", "nosdn-t-m1", "198.51.100.10");
    const member = await ctl.client.getMember("nosdn-t", "nosdn-t-m1");
    expect({ endpoint: member.endpoint, next: member.nextEndpoint }).toEqual({
      endpoint: "192.0.2.10",
      next: null,
    });
    expect(await ctl.client.listRebinds("nosdn-t", "nosdn-t-m1")).toEqual([]);
    // Every ask sees a fresh session: the runner does not wait for a switch.
    const [s1, s2] = [
      await port.switchSession("nosdn-t", "nosdn-t-m1"),
      await port.switchSession("nosdn-t", "nosdn-t-m1"),
    ];
    expect(s1?.connected && s2?.connected).toBe(true);
    expect(s1?.remoteAddress).not.toBe(s2?.remoteAddress);
  });
});
