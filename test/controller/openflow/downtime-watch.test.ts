import { describe, expect, it } from "vitest";
import type { Cluster } from "../../../controller/model/cluster.ts";
import { memberOf } from "../../../controller/model/member.ts";
import { DowntimeWatch } from "../../../controller/openflow/downtime-watch.ts";
import { PROBE_KIND, readProbe } from "../../../controller/openflow/probe-packet.ts";
import { DEFAULT_PROBE_SETTINGS, type Endpointed } from "../../../controller/openflow/rebind-probes.ts";
import type { SwitchSession } from "../../../controller/openflow/session.ts";

const web: Cluster = { id: "web", vni: 42, tunnel: "vxlan", description: "" };
const peer = memberOf(web, {
  vmId: "p",
  vint0: "198.18.0.1",
  endpoint: "192.0.2.1",
  description: "",
}) as Endpointed;
const mover = memberOf(web, { vmId: "m", vint0: "198.18.0.2", endpoint: "192.0.2.2", description: "" });
const PORT = 48879;
const nonce = new Uint8Array(8).fill(7);

/** The peer's switch as the watch uses it: what it was asked to send. */
function peerSwitch(): { session: SwitchSession; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const session = { packetOut: (m: { data: Uint8Array }) => sent.push(m.data) } as unknown as SwitchSession;
  return { session, sent };
}

describe("DowntimeWatch", () => {
  it("sends its first probes after this turn's writes, and counts the wait for the first arrival as a gap", async () => {
    const sw = peerSwitch();
    const watch = new DowntimeWatch(
      3,
      [{ from: peer, to: mover }],
      { ...DEFAULT_PROBE_SETTINGS, probePort: PORT, tailMs: 5, nonce },
      () => sw.session,
    );
    watch.start();
    // Nothing yet: a batch written in this turn goes to the switch ahead of any probe.
    expect(sw.sent).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(sw.sent).toHaveLength(1);
    const first = readProbe(sw.sent[0]!, PORT, nonce)!;
    expect(first).toMatchObject({ watch: 3, link: 0, kind: PROBE_KIND.DOWNTIME });
    // The stream starts dead: the first probe arrives 30 ms after the first was sent.
    await new Promise((r) => setTimeout(r, 30));
    watch.received(first, performance.now());
    const report = await watch.finish();
    expect(report!.links).toEqual([
      expect.objectContaining({ from: "p", to: "m", received: 1, longestGapMs: expect.any(Number) }),
    ]);
    expect(report!.ms).toBeGreaterThanOrEqual(29);
  });

  it("measures nothing when no probe arrives, and sends nothing once finished", async () => {
    const sw = peerSwitch();
    const watch = new DowntimeWatch(
      4,
      [{ from: peer, to: mover }],
      { ...DEFAULT_PROBE_SETTINGS, probePort: PORT, tailMs: 2, nonce },
      () => sw.session,
    );
    watch.start();
    expect(await watch.finish()).toBeNull();
    const after = sw.sent.length;
    await new Promise((r) => setTimeout(r, 10));
    expect(sw.sent).toHaveLength(after);
  });
});
