import { randomBytes } from "node:crypto";
import { ENC0_PORT } from "../../contract/dataplane/index.ts";
import { type Action, encodeMessage, OFP_NO_BUFFER, OFPP, type PacketIn } from "../../proto/index.ts";
import type { RebindIntent, RebindWatch } from "../fabric/switch-fabric.ts";
import type { ClusterState } from "../model/cluster-state.ts";
import type { Member } from "../model/member.ts";
import { DowntimeWatch } from "./downtime-watch.ts";
import type { OfLog } from "./log.ts";
import { PROBE_KIND, type ProbeTag, probeFrame, readProbe } from "./probe-packet.ts";
import type { SwitchSession } from "./session.ts";
import { WorkSlices } from "./work-slices.ts";

export interface ProbeSettings {
  /** UDP port of probe packets: the RulePlanner's, whose probe rules catch it. Unset: no downtime probes. */
  readonly probePort: number | undefined;
  /** Time between two probes on one link (ms): the resolution of the measured downtime. */
  readonly intervalMs: number;
  /** Links probed per rebind (peer -> moving member); 0 turns downtime probes off. */
  readonly maxLinks: number;
  /** After the last phase, how long probing goes on to see the stream come back (ms). */
  readonly tailMs: number;
  /** Peers whose endpoints the new instance primes (its next hops are usually one gateway). */
  readonly maxPrimeTargets: number;
}

export const DEFAULT_PROBE_SETTINGS: ProbeSettings = {
  probePort: undefined,
  intervalMs: 1,
  maxLinks: 4,
  tailMs: 20,
  maxPrimeTargets: 64,
};

/** A probe port for priming when downtime probes are off: UDP discard, caught by no rule. */
const DISCARD_PORT = 9;

export type Endpointed = Member & { readonly endpoint: string };

/**
 * What the OpenFlow fabric does around a rebind of member X to endpoint E:
 *
 * Priming. OVS resolves a tunnel's next hop by ARP when a packet first goes to a new tun_dst, and
 * drops packets meanwhile (up to ~2 s, LAB-NOTES). Before the first phase, every peer sends one
 * probe through enc0 to E (PACKET_OUT with explicit tunnel actions), and X's new instance one to
 * each peer endpoint, so both directions' next hops are being resolved while the rules go in.
 * When E was announced, both happened already (at the announcement and at the new instance's
 * reconcile), and the rebind sends no priming.
 *
 * Downtime probes. On up to `maxLinks` peers P, a probe every `intervalMs`: PACKET_OUT at P with
 * in_port=vint0 and output:TABLE, so it follows P's real egress rule for X's vint0 (to X's old
 * endpoint before the switch phase, to E after); X's probe rule (whichever instance it lands on)
 * hands it back as PACKET_IN. The longest time between two probes received is the downtime.
 */
export class RebindProbes {
  readonly #settings: ProbeSettings;
  readonly #pick: (dpid: bigint, endpoint: string | null) => SwitchSession | undefined;
  readonly #log: OfLog;
  readonly #nonce = new Uint8Array(randomBytes(8));
  readonly #watches = new Map<number, DowntimeWatch>();
  #nextWatch = 0;

  constructor(options: {
    settings: ProbeSettings;
    pick: (dpid: bigint, endpoint: string | null) => SwitchSession | undefined;
    log: OfLog;
  }) {
    this.#settings = options.settings;
    this.#pick = options.pick;
    this.#log = options.log;
  }

  /**
   * Resolves once every peer's priming packet is written (in slices: 5,000 peers' writes in one go
   * held the event loop for about 10 ms), before the rebind's first batch.
   */
  async begin(intent: RebindIntent): Promise<RebindWatch | undefined> {
    const { state, vmId, endpoint } = intent;
    const mover = state.members.find((m) => m.vmId === vmId);
    if (!mover) return undefined;
    const peers = reachablePeers(state, vmId, endpoint);
    // An announced endpoint was primed when announced (primeAnnounced), and the new instance
    // primed its own next hops when it was reconciled (primeConnected): priming again would only
    // put packets ahead of this rebind's batches on every peer's connection.
    if (mover.nextEndpoint !== endpoint) await this.#prime(state.cluster.vni, mover, endpoint, peers);
    const { probePort, maxLinks } = this.#settings;
    if (probePort === undefined || maxLinks === 0) return undefined;
    const links = firstByVmId(peers, maxLinks, (p) => this.#pick(p.dpid, p.endpoint) !== undefined);
    if (links.length === 0) return undefined;
    this.#nextWatch = (this.#nextWatch % 0xffff_ffff) + 1;
    const id = this.#nextWatch;
    const watch = new DowntimeWatch(
      id,
      links.map((from) => ({ from, to: mover })),
      { ...this.#settings, probePort, nonce: this.#nonce },
      this.#pick,
    );
    this.#watches.set(id, watch);
    watch.start();
    return {
      finish: async () => {
        try {
          return await watch.finish();
        } finally {
          this.#watches.delete(id);
        }
      },
    };
  }

  /** A PACKET_IN from any switch; true when it was one of our probes (so nobody else needs it). */
  packetIn(session: SwitchSession, m: PacketIn): boolean {
    const tag = readProbe(m.data, this.#settings.probePort ?? DISCARD_PORT, this.#nonce);
    if (!tag) return false;
    if (tag.kind === PROBE_KIND.PRIME) {
      this.#log.debug("priming probe arrived", { switch: session.label });
      return true;
    }
    this.#watches.get(tag.watch)?.received(tag, performance.now());
    return true;
  }

  /** Watches running now (tests check none is left behind). */
  get active(): number {
    return this.#watches.size;
  }

  async #prime(vni: number, mover: Member, endpoint: string, peers: readonly Endpointed[]): Promise<void> {
    const primed = await this.#primeToward(vni, mover, endpoint, peers);
    const fresh = this.#pick(mover.dpid, endpoint);
    const back = fresh ? this.#primeFrom(fresh, vni, mover, peers) : 0;
    this.#log.debug("primed tunnel next hops", { vmId: mover.vmId, endpoint, packets: primed + back });
  }

  /**
   * Member `vmId` announced `endpoint` as its next one: peers start resolving their next hop
   * toward it now, long before the rebind sends them there. Resolves once every packet is written.
   */
  async primeAnnounced(state: ClusterState, vmId: string, endpoint: string): Promise<void> {
    const mover = state.members.find((m) => m.vmId === vmId);
    if (!mover) return;
    await this.#primeToward(state.cluster.vni, mover, endpoint, reachablePeers(state, vmId, endpoint));
  }

  /**
   * A member's switch was just reconciled (a VM booted, maybe a moved one's new instance): it
   * starts resolving its next hops toward its peers before its VM's first packets need them.
   */
  primeConnected(session: SwitchSession, state: ClusterState, vmId: string): void {
    const self = state.members.find((m) => m.vmId === vmId);
    if (!self) return;
    this.#primeFrom(session, state.cluster.vni, self, reachablePeers(state, vmId, null));
  }

  /**
   * Every peer's switch sends one packet through enc0 to `endpoint` (the mover's new one), in
   * slices; how many were sent.
   */
  async #primeToward(
    vni: number,
    mover: Member,
    endpoint: string,
    peers: readonly Endpointed[],
  ): Promise<number> {
    const port = this.#settings.probePort ?? DISCARD_PORT;
    // Every peer sends the same packet (only the tunnel source differs, and the switch sets that):
    // one encoding, xid 0, for all of them.
    const toMover = encodeMessage({
      type: "PACKET_OUT",
      xid: 0,
      ...tunnelOut(vni, endpoint, probeFrame(mover.vint0, mover.vint0, port, primeTag(this.#nonce, 0))),
    });
    let primed = 0;
    const slices = new WorkSlices();
    for (const p of peers) {
      if (slices.due()) await slices.next();
      const s = this.#pick(p.dpid, p.endpoint);
      if (!s) continue;
      s.sendEncoded(toMover);
      primed++;
    }
    return primed;
  }

  /** `session` (the member's switch) sends one packet through enc0 to each peer's endpoint. */
  #primeFrom(session: SwitchSession, vni: number, self: Member, peers: readonly Endpointed[]): number {
    const port = this.#settings.probePort ?? DISCARD_PORT;
    // Its next hops toward its peers (usually one gateway, so a few suffice).
    const targets = peers.slice(0, this.#settings.maxPrimeTargets);
    targets.forEach((p, i) => {
      session.packetOut(
        tunnelOut(vni, p.endpoint, probeFrame(self.vint0, p.vint0, port, primeTag(this.#nonce, i + 1))),
      );
    });
    return targets.length;
  }
}

/**
 * The `k` first of `peers` by vmId that `accepts`, in that order: `filter`, `sort` and `slice`
 * without sorting (and picking a session for) every one of 5,000 peers. vmIds are unique.
 */
function firstByVmId(
  peers: readonly Endpointed[],
  k: number,
  accepts: (p: Endpointed) => boolean,
): Endpointed[] {
  const first: Endpointed[] = [];
  for (const p of peers) {
    if (first.length === k && p.vmId > first[k - 1]!.vmId) continue;
    if (!accepts(p)) continue;
    let i = first.length;
    while (i > 0 && p.vmId < first[i - 1]!.vmId) i--;
    first.splice(i, 0, p);
    if (first.length > k) first.pop();
  }
  return first;
}

/** Members other than `vmId` with an endpoint (other than `except`): whom a switch can tunnel to. */
function reachablePeers(state: ClusterState, vmId: string, except: string | null): Endpointed[] {
  return state.members.filter(
    (m): m is Endpointed => m.vmId !== vmId && m.endpoint !== null && m.endpoint !== except,
  );
}

function primeTag(nonce: Uint8Array, seq: number): ProbeTag {
  return { nonce, watch: 0, link: 0, kind: PROBE_KIND.PRIME, seq };
}

/** A PACKET_OUT straight into the tunnel toward `dst` (no rule involved). */
function tunnelOut(vni: number, dst: string, data: Uint8Array) {
  const actions: Action[] = [
    { kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: dst } },
    { kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value: BigInt(vni) } },
    { kind: "OUTPUT", port: ENC0_PORT, maxLen: 0 },
  ];
  return { bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions, data };
}
