import { VINT0_PORT } from "../../contract/dataplane/index.ts";
import { OFP_NO_BUFFER, OFPP } from "../../proto/index.ts";
import type { DowntimeReport } from "../fabric/switch-fabric.ts";
import type { Member } from "../model/member.ts";
import { PROBE_KIND, type ProbeTag, probeFrame } from "./probe-packet.ts";
import type { Endpointed, ProbeSettings } from "./rebind-probes.ts";
import type { SwitchSession } from "./session.ts";

interface LinkState {
  readonly from: Endpointed;
  readonly to: Member;
  sent: number;
  received: number;
  lastRx: number | undefined;
  longestGap: number;
  firstSentAt: number | undefined;
  lastSentAt: number | undefined;
}

/**
 * One rebind's probe streams (see RebindProbes): a probe per link every interval, PACKET_OUT at
 * the peer with in_port=vint0 and output:TABLE; the receive times of the PACKET_INs give the
 * longest gap per link, counted from the link's first probe sent (a stream that starts dead
 * shows as a gap too). Probing goes on for `tailMs` after the last phase, to see the stream
 * come back (or not).
 *
 * The first probes leave after the batches written in the same turn (`start` defers them): a
 * switch handles its connection's messages in order, so a probe written first would hold the
 * phase's bundle and barrier back (on real OVS, three probed peers doubled a 4-switch rebind's
 * update time). A phase that goes to the peers first (announced: the switch phase) is thus
 * probed from its new path on; the gap before the first probe arrives is part of the downtime.
 */
export class DowntimeWatch {
  readonly #id: number;
  readonly #links: LinkState[];
  readonly #settings: ProbeSettings & { readonly probePort: number; readonly nonce: Uint8Array };
  readonly #pick: (dpid: bigint, endpoint: string | null) => SwitchSession | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #seq = 0;

  constructor(
    id: number,
    links: readonly { from: Endpointed; to: Member }[],
    settings: ProbeSettings & { readonly probePort: number; readonly nonce: Uint8Array },
    pick: (dpid: bigint, endpoint: string | null) => SwitchSession | undefined,
  ) {
    this.#id = id;
    this.#links = links.map((l) => ({
      ...l,
      sent: 0,
      received: 0,
      lastRx: undefined,
      longestGap: 0,
      firstSentAt: undefined,
      lastSentAt: undefined,
    }));
    this.#settings = settings;
    this.#pick = pick;
  }

  /** Probing starts once this turn's writes have left (channel.ts uncorks after this turn too). */
  start(): void {
    this.#timer = setInterval(() => this.#tick(), this.#settings.intervalMs);
    setImmediate(() => {
      if (this.#timer !== undefined) this.#tick();
    });
  }

  received(tag: ProbeTag, now: number): void {
    const link = this.#links[tag.link];
    if (!link || this.#timer === undefined) return;
    const since = link.lastRx ?? link.firstSentAt;
    if (since !== undefined) link.longestGap = Math.max(link.longestGap, now - since);
    link.lastRx = now;
    link.received++;
  }

  async finish(): Promise<DowntimeReport | null> {
    const { tailMs, intervalMs } = this.#settings;
    await sleep(tailMs);
    clearInterval(this.#timer);
    // In-flight probes still count; after this, a probe is late.
    await sleep(Math.max(5, 2 * intervalMs));
    this.#timer = undefined;
    const links = this.#links.map((l) => {
      // A stream that never came back: the gap runs from its last probe to the last one sent.
      const trailing = l.lastRx !== undefined && l.lastSentAt !== undefined ? l.lastSentAt - l.lastRx : 0;
      return {
        from: l.from.vmId,
        to: l.to.vmId,
        sent: l.sent,
        received: l.received,
        longestGapMs: Math.max(l.longestGap, trailing),
      };
    });
    const measured = links.filter((l) => l.received > 0);
    if (measured.length === 0) return null;
    return { ms: Math.max(...measured.map((l) => l.longestGapMs)), intervalMs, links };
  }

  #tick(): void {
    const seq = ++this.#seq;
    const now = performance.now();
    this.#links.forEach((link, i) => {
      const s = this.#pick(link.from.dpid, link.from.endpoint);
      if (!s) return;
      const tag = {
        nonce: this.#settings.nonce,
        watch: this.#id,
        link: i,
        kind: PROBE_KIND.DOWNTIME,
        seq,
      } as const;
      s.packetOut({
        bufferId: OFP_NO_BUFFER,
        // As if vint0 sent it: it takes the same egress rule as the member's own traffic.
        inPort: VINT0_PORT,
        actions: [{ kind: "OUTPUT", port: OFPP.TABLE, maxLen: 0 }],
        data: probeFrame(link.from.vint0, link.to.vint0, this.#settings.probePort, tag),
      });
      link.sent++;
      link.firstSentAt ??= now;
      link.lastSentAt = now;
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
