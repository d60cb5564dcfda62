/**
 * Three clouds, one lab VM each, VXLAN: traffic between vint0s crosses the WAN through the routers'
 * floating-IP NAT; a VM moves and traffic is restored by re-pointing the flows. Real mininet, real
 * Open vSwitch (one userspace instance per VM), real namespaces, real iptables NAT.
 */
import { createServer, type Socket } from "node:net";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datapathIdFor, formatDpid } from "../../contract/dataplane/index.ts";
import type { StatusView, VmView } from "../../lab/lab.ts";
import { HOST_ADDRESS } from "../../lab/plan.ts";
import { Lab, netnsList } from "./helpers.ts";

const lab = new Lab("tv");
const VNI = 42;
let st: StatusView;

const vm = (s: StatusView, name: string): VmView => {
  const v = s.vms.find((x) => x.name === name);
  if (!v) throw new Error(`no ${name} in status`);
  return v;
};

describe("lab over VXLAN: three clouds", () => {
  beforeAll(async () => {
    await lab.down();
    const t0 = Date.now();
    st = await lab.up("--clouds", "3", "--vms", "1", "--tunnel", "vxlan");
    console.log(`lab up (3 clouds, 3 VMs) took ${Date.now() - t0} ms`);
  }, 120_000);

  afterAll(async () => {
    await lab.down();
  }, 60_000);

  it("reports clouds, VMs, fixed and floating IPs, vint0 addresses and dpids", () => {
    expect(st.phase).toBe("ready");
    expect(st.tunnel).toBe("vxlan");
    expect(st.hostAddress).toBe(HOST_ADDRESS);
    expect(st.clouds.map((c) => c.name)).toEqual(["a", "b", "c"]);
    expect(st.wan.map((w) => `${w.a}-${w.b} ${w.network}`)).toEqual([
      "a-b 203.0.113.0/30",
      "a-c 203.0.113.4/30",
      "b-c 203.0.113.8/30",
    ]);
    const expected = [
      ["vm1", "a", "192.0.2.10", "203.0.113.33", "198.18.0.1"],
      ["vm2", "b", "198.51.100.10", "203.0.113.65", "198.18.0.2"],
      ["vm3", "c", "192.0.2.138", "203.0.113.97", "198.18.0.3"],
    ];
    for (const [name, cloud, fixed, floating, vint0] of expected) {
      const v = vm(st, name!);
      expect(v).toMatchObject({
        cloud,
        fixedIp: fixed,
        floatingIp: floating,
        vint0: { ip: vint0, prefix: 24 },
      });
      // What OVS reports is the dpid vm-init derives from the VNI and vint0.
      expect(v.dpid).toBe(formatDpid(datapathIdFor(VNI, vint0!)));
      expect(v.instances).toHaveLength(1);
      expect(v.instances[0]!.alive).toBe(true);
      expect(v.instances[0]!.vmInit?.configuredMs).toBeGreaterThan(0);
    }
  });

  it("gives each VM the interfaces and OVS a real VM has, reachable through lab exec", async () => {
    const links = await lab.exec("vm1", ["ip", "-br", "link"]);
    for (const ifname of ["eth0", "icbond0", "vint0"]) expect(links.stdout).toContain(ifname);
    const addrs = await lab.exec("vm1", ["ip", "-br", "-4", "addr"]);
    expect(addrs.stdout).toMatch(/icbond0\s+\S+\s+192\.0\.2\.10\/25/);
    expect(addrs.stdout).toMatch(/vint0\s+\S+\s+198\.18\.0\.1\/24/);
    const ports = await lab.exec("vm1", ["ovs-vsctl", "list-ports", "icbr0"]);
    expect(ports.stdout.split("\n").sort()).toEqual(["enc0", "vint0"]);
    const enc0 = await lab.exec("vm1", ["ovs-vsctl", "get", "interface", "enc0", "type", "ofport"]);
    expect(enc0.stdout.split("\n")).toEqual(["vxlan", "1"]);
    const mtu = await lab.exec("vm1", ["cat", "/sys/class/net/vint0/mtu"]);
    expect(mtu.stdout).toBe("1450"); // 1500 - VXLAN's 50
    const dpid = await lab.exec("vm1", ["ovs-ofctl", "-O", "OpenFlow13", "show", "icbr0"]);
    expect(dpid.stdout).toContain(`dpid:${vm(st, "vm1").dpid}`);
  });

  it("carries ping and TCP between vint0s in two clouds, VXLAN-encapsulated and NATed to floating IPs", async () => {
    const [v1, v2] = [vm(st, "vm1"), vm(st, "vm2")];
    await lab.pointAt("vm1", v2.vint0.ip, v2.floatingIp!, VNI);
    await lab.pointAt("vm2", v1.vint0.ip, v1.floatingIp!, VNI);

    // On the WAN link between the routers: outer addresses are the floating IPs, inner the vint0s.
    const packets = await lab.capture(
      "router-a",
      "wan-b",
      "udp port 4789",
      ["ip.src", "ip.dst", "vxlan.vni"],
      4,
      async () => expect(await lab.ping("vm1", v2.vint0.ip, 3)).toBe(3),
    );
    expect(packets).toContain(`203.0.113.33,198.18.0.1 203.0.113.65,198.18.0.2 ${VNI}`);
    expect(packets).toContain(`203.0.113.65,198.18.0.2 203.0.113.33,198.18.0.1 ${VNI}`);

    const bytes = await lab.tcpTransfer("vm1", "vm2", v2.vint0.ip);
    expect(bytes).toBeGreaterThan(1_000_000);
  });

  it("lets a VM reach the machine at the management address from its floating IP (the controller's path)", async () => {
    expect(await lab.ping("vm2", HOST_ADDRESS, 2)).toBe(2);
    const seen: string[] = [];
    const server = createServer((s: Socket) => {
      seen.push(s.remoteAddress ?? "?");
      s.end();
    });
    await new Promise<void>((r) => server.listen(16654, HOST_ADDRESS, r));
    try {
      await lab.exec("vm2", ["bash", "-c", `exec 3<>/dev/tcp/${HOST_ADDRESS}/16654; echo hi >&3`], {
        timeoutMs: 10_000,
      });
      const deadline = Date.now() + 5_000;
      while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      server.close();
    }
    expect(seen).toEqual([vm(st, "vm2").floatingIp]);
  });

  it("lets the machine reach a VM's floating IP over TCP (as the mediation's ssh checks will)", async () => {
    const v3 = vm(st, "vm3");
    await lab.exec("vm3", ["iperf3", "-s", "-1", "-D", "-B", v3.fixedIp!]);
    await new Promise((r) => setTimeout(r, 300));
    const res = await execa("iperf3", ["-c", v3.floatingIp!, "-t", "1", "-J", "--connect-timeout", "3000"], {
      timeout: 15_000,
      reject: false,
    });
    const report = JSON.parse(String(res.stdout) || "{}") as { end?: { sum_received?: { bytes?: number } } };
    expect(report.end?.sum_received?.bytes ?? 0).toBeGreaterThan(1_000_000);
  });

  it("moves a VM with --keep-source: both instances live, re-pointed flows restore traffic, release removes the old", async () => {
    const v1 = vm(st, "vm1");
    const before = vm(st, "vm2");
    await lab.lab(["move", "vm2", "--to", "c", "--keep-source"]);
    const mid = await lab.status();
    const v2 = vm(mid, "vm2");
    expect(v2.instances.map((i) => `${i.cloud}:${i.role}:${i.alive}`)).toEqual([
      "b:source:true",
      "c:current:true",
    ]);
    expect(v2.cloud).toBe("c");
    expect(v2.fixedIp).toBe("192.0.2.139");
    expect(v2.floatingIp).toBe("203.0.113.98");
    expect(v2.vint0).toEqual(before.vint0);
    // The new instance has the same vint0 (address and MAC) and its own OVS.
    const vint = await lab.exec("vm2", ["ip", "-br", "link", "show", "vint0"]);
    expect(vint.stdout).toContain(before.vint0.mac);

    // vm1's flows still point at the old floating IP: the source instance answers.
    expect(await lab.ping("vm1", before.vint0.ip, 2)).toBe(2);
    // Re-point: vm1 towards the new floating IP, the new instance towards vm1.
    await lab.pointAt("vm1", v2.vint0.ip, v2.floatingIp!, VNI);
    await lab.pointAt("vm2", v1.vint0.ip, v1.floatingIp!, VNI);
    expect(await lab.ping("vm1", v2.vint0.ip, 3)).toBe(3);
    // And it is the new instance that answered: its enc0 -> vint0 flow counted the packets.
    const flows = await lab.exec("vm2@c", [
      "ovs-ofctl",
      "-O",
      "OpenFlow13",
      "dump-flows",
      "icbr0",
      "in_port=enc0",
    ]);
    expect(flows.stdout).toMatch(/n_packets=[1-9]/);
    expect(await lab.tcpTransfer("vm2", "vm1", v1.vint0.ip)).toBeGreaterThan(1_000_000);

    const oldNetns = v2.instances[0]!.netns;
    await lab.lab(["release", "vm2"]);
    const after = vm(await lab.status(), "vm2");
    expect(after.instances.map((i) => `${i.cloud}:${i.role}`)).toEqual(["c:current"]);
    expect(await netnsList()).not.toContain(oldNetns);
    expect(await lab.ping("vm1", v2.vint0.ip, 2)).toBe(2);
  });

  it("moves a VM without --keep-source: the old instance is gone once the new one is up", async () => {
    const old = vm(await lab.status(), "vm1");
    await lab.lab(["move", "vm1", "--to", "b"]);
    const s = await lab.status();
    const v1 = vm(s, "vm1");
    const v2 = vm(s, "vm2");
    expect(v1.instances.map((i) => `${i.cloud}:${i.role}`)).toEqual(["b:current"]);
    expect(v1.fixedIp).toBe("198.51.100.11");
    expect(v1.floatingIp).toBe("203.0.113.66");
    expect(await netnsList()).not.toContain(old.instances[0]!.netns);
    await lab.pointAt("vm1", v2.vint0.ip, v2.floatingIp!, VNI);
    await lab.pointAt("vm2", v1.vint0.ip, v1.floatingIp!, VNI);
    expect(await lab.ping("vm2", v1.vint0.ip, 3)).toBe(3);
  });

  it("installs full-mesh static flows with 'lab flows'", async () => {
    await lab.lab(["flows"]);
    expect(await lab.ping("vm3", "198.18.0.1", 2)).toBe(2);
    expect(await lab.ping("vm3", "198.18.0.2", 2)).toBe(2);
  });
});
