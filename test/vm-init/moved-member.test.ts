/**
 * A member moved to a new instance, on real Open vSwitch: a peer that resolved the member's vint0
 * before the move reaches its new instance at once, from its ARP cache, without a new ARP
 * exchange, because vm-init gives every instance of the member the contract's vint0 MAC (the
 * config names none, as a user's need not). The tunnels are programmed with ovs-ofctl as the
 * controller's rules would be (forwarding on IP; no rule matches a MAC); the three sandboxes
 * (the peer, the member's old and new instance) share one underlay segment, a Linux bridge.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterEach, expect, it } from "vitest";
import { vint0MacFor } from "../../contract/dataplane/index.ts";
import { apply, parseConfig, type VmInitConfig } from "../../vm-init/index.ts";
import { links, targetOf } from "./helpers.ts";
import { createSandbox, destroyAllSandboxes, type OvsSandbox } from "./ovs-sandbox.ts";

afterEach(destroyAllSandboxes);

const VNI = 42;
const PEER = { vint0: "198.18.0.1", underlay: "100.64.7.1" };
const MEMBER = "198.18.0.2";

function config(vint0: string, underlay: string): VmInitConfig {
  return parseConfig({
    clusterId: "moved",
    vni: VNI,
    tunnel: "vxlan",
    datapath: "netdev",
    vint0: { address: `${vint0}/24` },
    underlay: { nics: ["eth0"], address: `${underlay}/24` },
  });
}

/** A sandbox whose eth0's other end joins `bridge` in the root namespace. */
async function onSegment(bridge: string): Promise<OvsSandbox> {
  const sb = await createSandbox({ hostLink: false });
  await execa("ip", ["link", "set", `${sb.name}h0`, "master", bridge]);
  await execa("ethtool", ["-K", `${sb.name}h0`, "tx", "off"]);
  return sb;
}

/**
 * What the controller's rules do toward and from one peer (flow-compiler.ts): egress IPv4 and ARP,
 * ingress. ARP requests get a rule of their own, with the same actions, so they can be counted.
 */
async function tunnel(sb: OvsSandbox, peerVint0: string, peerUnderlay: string): Promise<void> {
  const out = `actions=set_field:${peerUnderlay}->tun_dst,set_field:${VNI}->tun_id,output:1`;
  for (const flow of [
    `priority=100,in_port=2,ip,nw_dst=${peerVint0},${out}`,
    `priority=100,in_port=2,arp,arp_tpa=${peerVint0},${out}`,
    `priority=110,in_port=2,arp,arp_op=1,arp_tpa=${peerVint0},${out}`,
    `priority=100,in_port=1,tun_id=${VNI},tun_src=${peerUnderlay},actions=output:2`,
  ])
    await sb.ofctl("-O", "OpenFlow13", "add-flow", "icbr0", flow);
}

/**
 * ARP requests the peer's switch sent for the member's vint0. Userspace OVS adds a datapath
 * flow's packets to its rule's counter every half second or so: read after a pause.
 */
async function arpRequests(peer: OvsSandbox): Promise<number> {
  await sleep(1500);
  const flows = await peer.ofctl("-O", "OpenFlow13", "dump-flows", "icbr0", `arp,arp_tpa=${MEMBER}`);
  const line = flows.split("\n").find((l) => l.includes("arp_op=1"));
  return Number(/n_packets=(\d+)/.exec(line ?? "")?.[1]);
}

function ping(sb: OvsSandbox, to: string) {
  return sb.exec("ping", ["-c", "1", "-W", "2", to], { reject: false });
}

/**
 * Userspace OVS drops a tunnel's first packet to a next hop it has not resolved yet (the
 * controller primes them, rebind-probes.ts); here each side's kernel pings the other's underlay
 * address, whose ARP OVS learns from.
 */
async function primeUnderlay(a: OvsSandbox, b: OvsSandbox): Promise<void> {
  const address = async (sb: OvsSandbox) =>
    (await sb.ipJson<{ addr_info: { local: string }[] }[]>("-4", "addr", "show", "icbond0"))[0]!.addr_info[0]!
      .local;
  const [ua, ub] = [await address(a), await address(b)];
  expect((await a.exec("ping", ["-c", "1", "-W", "2", ub], { reject: false })).exitCode).toBe(0);
  expect((await b.exec("ping", ["-c", "1", "-W", "2", ua], { reject: false })).exitCode).toBe(0);
}

it("a peer's first packets reach the moved member's new instance without a new ARP exchange", async () => {
  const peerSb = await createSandbox({ hostLink: false });
  const bridge = `${peerSb.name}sw`;
  await execa("ip", ["link", "add", bridge, "type", "bridge"]);
  peerSb.addHostIf(bridge);
  await execa("ip", ["link", "set", bridge, "up"]);
  await execa("ip", ["link", "set", `${peerSb.name}h0`, "master", bridge]);
  await execa("ethtool", ["-K", `${peerSb.name}h0`, "tx", "off"]);
  await apply(config(PEER.vint0, PEER.underlay), targetOf(peerSb));

  // The member's old instance; the peer resolves its vint0 by ARP.
  const old = await onSegment(bridge);
  await apply(config(MEMBER, "100.64.7.2"), targetOf(old));
  await tunnel(old, PEER.vint0, PEER.underlay);
  await tunnel(peerSb, MEMBER, "100.64.7.2");
  await primeUnderlay(peerSb, old);
  expect((await ping(peerSb, MEMBER)).exitCode).toBe(0);
  const neighbour = await peerSb.ip("neigh", "show", MEMBER, "dev", "vint0");
  expect(neighbour).toContain(`lladdr ${vint0MacFor(MEMBER)}`);

  // The move: the old instance is gone, the new one boots the same config at another underlay
  // address, and the peer's rules are rebound to it (egress replaced, ingress added).
  await old.destroy();
  const moved = await onSegment(bridge);
  await apply(config(MEMBER, "100.64.7.3"), targetOf(moved));
  await tunnel(moved, PEER.vint0, PEER.underlay);
  await tunnel(peerSb, MEMBER, "100.64.7.3");
  expect((await links(moved)).get("vint0")?.address).toBe(vint0MacFor(MEMBER));
  await primeUnderlay(peerSb, moved);

  const arpBefore = await arpRequests(peerSb);
  // The peer resolved the member once, before the move (the counter sees its requests).
  expect(arpBefore).toBeGreaterThanOrEqual(1);
  const first = await ping(peerSb, MEMBER);
  expect(first.exitCode, first.stdout).toBe(0);
  // Sent from the peer's cache: it asked no ARP for the member (the new instance asks for the
  // peer's, which the peer answers).
  expect(await arpRequests(peerSb)).toBe(arpBefore);
  expect(await peerSb.ip("neigh", "show", MEMBER, "dev", "vint0")).toContain(`lladdr ${vint0MacFor(MEMBER)}`);
}, 60_000);
