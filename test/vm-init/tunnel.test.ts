/**
 * Two lab VMs in miniature, joined by a veth, vm-init applied in both, the LAB-NOTES flows added
 * by hand with ovs-ofctl: vint0 talks to vint0 over VXLAN, then (converged in place) over GRE,
 * up to full-size packets with DF set, which only pass if vint0's MTU leaves room for the tunnel.
 */
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TunnelType } from "../../contract/dataplane/index.ts";
import { apply, parseConfig, type VmInitConfig, vint0Mtu } from "../../vm-init/index.ts";
import { get, targetOf } from "./helpers.ts";
import { createSandbox, destroyAllSandboxes, linkSandboxes, type OvsSandbox } from "./ovs-sandbox.ts";

const VNI = 42;
const members = [
  { vint0: "198.18.0.1", underlay: "198.51.100.1" },
  { vint0: "198.18.0.2", underlay: "198.51.100.2" },
];

let vms: OvsSandbox[] = [];

beforeAll(async () => {
  vms = [
    await createSandbox({ nics: [], hostLink: false }),
    await createSandbox({ nics: [], hostLink: false }),
  ];
  await linkSandboxes(vms[0]!, "eth0", vms[1]!, "eth0");
});
afterAll(destroyAllSandboxes);

function configOf(i: number, tunnel: TunnelType): VmInitConfig {
  return parseConfig({
    clusterId: "tunnel",
    vni: VNI,
    tunnel,
    datapath: "netdev",
    vint0: { address: `${members[i]!.vint0}/24` },
    underlay: { nics: ["eth0"], address: `${members[i]!.underlay}/24` },
  });
}

/** LAB-NOTES' flows, with the fixed port numbers vm-init guarantees (enc0 = 1, vint0 = 2). */
async function addFlows(vm: OvsSandbox, peer: (typeof members)[number]): Promise<void> {
  const toPeer = `set_field:${peer.underlay}->tun_dst,set_field:${VNI}->tun_id,output:1`;
  for (const flow of [
    `in_port=2,ip,nw_dst=${peer.vint0} actions=${toPeer}`,
    `in_port=2,arp,arp_tpa=${peer.vint0} actions=${toPeer}`,
    `in_port=1,tun_id=${VNI} actions=output:2`,
  ]) {
    await vm.ofctl("-O", "OpenFlow13", "add-flow", "icbr0", flow);
  }
}

async function ping(from: OvsSandbox, to: string, args: string[] = []) {
  return from.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", ...args, to], { reject: false });
}

describe.each([["vxlan"], ["gre"]] as const)("vint0 to vint0 over %s", (tunnel) => {
  it("pings, both ways, up to full-size packets that may not be fragmented", async () => {
    for (const i of [0, 1]) {
      const r = await apply(configOf(i, tunnel), targetOf(vms[i]!));
      expect(r.vint0.mtu).toBe(vint0Mtu(1500, tunnel));
      expect(await get(vms[i]!, "Interface", "enc0", "type")).toBe(tunnel);
    }
    // Flows survive the switch from VXLAN to GRE: add them once.
    if (tunnel === "vxlan") {
      await addFlows(vms[0]!, members[1]!);
      await addFlows(vms[1]!, members[0]!);
    }
    expect(
      (await vms[0]!.ofctl("-O", "OpenFlow13", "dump-flows", "icbr0")).match(/tun_id|tun_dst/g)?.length,
    ).toBe(5);

    // The first packet to a new underlay next hop waits for OVS to resolve it (LAB-NOTES).
    await ping(vms[0]!, members[1]!.vint0, ["-c", "1", "-W", "3"]);
    const there = await ping(vms[0]!, members[1]!.vint0);
    expect(there.stdout).toMatch(/3 packets transmitted, 3 received/);
    const back = await ping(vms[1]!, members[0]!.vint0);
    expect(back.stdout).toMatch(/3 packets transmitted, 3 received/);

    // 28 = IPv4 + ICMP headers: the largest ping that fits vint0's MTU, DF set.
    const size = vint0Mtu(1500, tunnel) - 28;
    const full = await ping(vms[0]!, members[1]!.vint0, ["-M", "do", "-s", String(size)]);
    expect(full.stdout).toMatch(/3 packets transmitted, 3 received/);
    // One byte more does not leave vint0 at all: the MTU is what vm-init set.
    const over = await ping(vms[0]!, members[1]!.vint0, ["-M", "do", "-s", String(size + 1), "-c", "1"]);
    expect(`${over.stdout}${over.stderr}`).toMatch(/message too long|mtu=/i);
  });

  it("carries TCP with every offload left on (the default txChecksum: keep)", async () => {
    const [a, b] = vms as [OvsSandbox, OvsSandbox];
    const server = b.exec(
      "socat",
      ["-u", `TCP-LISTEN:5001,bind=${members[1]!.vint0},reuseaddr`, "OPEN:/dev/null"],
      {
        reject: false,
        timeout: 15_000,
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    const sent = await execa(
      "ip",
      [
        "netns",
        "exec",
        a.name,
        "sh",
        "-c",
        `head -c 4000000 /dev/zero | socat -u - TCP:${members[1]!.vint0}:5001,connect-timeout=5`,
      ],
      { reject: false, timeout: 15_000 },
    );
    expect(sent.exitCode).toBe(0);
    expect((await server).exitCode).toBe(0);
  });
});
