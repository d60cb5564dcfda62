/**
 * The lab demo: two emulated clouds, one lab VM in each, static tunnel flows (no controller yet),
 * and a ping from vm1's vint0 to vm2's vint0 that crosses the WAN through both routers'
 * floating-IP NAT. Tears the lab down at the end, also on failure.
 *
 *     node lab/demo.ts [--tunnel vxlan|gre]      (or: icsdn lab demo [--tunnel ...])
 */
import { parseArgs } from "node:util";
import { captureWhile, down, execCapture, installFlows, status, up } from "./lab.ts";
import type { Tunnel } from "./plan.ts";

const NAME = "demo";

export async function runDemo(
  tunnel: Tunnel = "vxlan",
  out: (s: string) => void = console.log,
): Promise<number> {
  const say = (s: string): void => out(s);
  const t0 = Date.now();
  say(`== lab up: 2 clouds, 1 VM each, ${tunnel}, WAN 100 Mbit/s`);
  try {
    await up(
      NAME,
      {
        clouds: 2,
        vmsPerCloud: 1,
        tunnel,
        wanMbit: 100,
        nics: 1,
        controllers: [],
        vni: 42,
        clusterId: "demo",
      },
      (l) => say(`   ${l}`),
    );
    const st = status(NAME);
    for (const vm of st.vms) {
      say(
        `   ${vm.name} in cloud ${vm.cloud}: vint0 ${vm.vint0.ip}, fixed ${vm.fixedIp}, floating ${vm.floatingIp}, dpid ${vm.dpid}`,
      );
    }
    const [v1, v2] = st.vms;
    if (!v1 || !v2) throw new Error("the demo lab has no two VMs");

    say(
      "== static flows (what the controller will compute): vint0 -> enc0 with tun_dst = peer's floating IP",
    );
    await installFlows(NAME);
    const flows = await execCapture(NAME, "vm1", [
      "ovs-ofctl",
      "-O",
      "OpenFlow13",
      "--no-stats",
      "dump-flows",
      "icbr0",
    ]);
    for (const line of flows.stdout.split("\n").filter((l) => l.includes("actions=")))
      say(`   vm1: ${line.trim()}`);

    say(`== ping ${v2.vint0.ip} (vm2, cloud ${v2.cloud}) from vm1's vint0 (cloud ${v1.cloud})`);
    let ping = { stdout: "" };
    const filter = tunnel === "vxlan" ? "udp port 4789" : "ip proto 47";
    const key = tunnel === "vxlan" ? "vxlan.vni" : "gre.key";
    const during = async (): Promise<void> => {
      ping = await execCapture(NAME, "vm1", ["ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", v2.vint0.ip], {
        check: false,
        timeoutMs: 15_000,
      });
    };
    const fields = ["ip.src", "ip.dst", key, "icmp.type"];
    const wire = (
      await captureWhile(NAME, `router-${v1.cloud}`, `wan-${v2.cloud}`, filter, 4, during, fields)
    ).map((line) => {
      // ip.src and ip.dst hold "outer,inner"; icmp.type 8 = echo request, 0 = reply.
      const [src = "", dst = "", k = "", icmp = ""] = line.split(" ");
      const [osrc, isrc] = src.split(",");
      const [odst, idst] = dst.split(",");
      const what = icmp === "8" ? "echo request" : icmp === "0" ? "echo reply" : `icmp ${icmp}`;
      return `outer ${osrc} -> ${odst} ${tunnel} key ${Number(k)} | inner ${isrc} -> ${idst} ${what}`;
    });
    for (const line of ping.stdout.split("\n")) say(`   ${line}`);
    say(`== on the WAN link (tshark at router-${v1.cloud}): floating IPs outside, vint0 addresses inside`);
    for (const line of wire) say(`   ${line}`);
    const ok = /\b5 received/.test(ping.stdout);
    say(ok ? "== vint0-to-vint0 traffic crossed clouds" : "== ping FAILED");
    return ok ? 0 : 1;
  } finally {
    await down(NAME);
    say(`== lab down (demo took ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { tunnel: { type: "string", default: "vxlan" } } });
  if (values.tunnel !== "vxlan" && values.tunnel !== "gre") {
    console.error("--tunnel must be vxlan or gre");
    process.exit(2);
  }
  runDemo(values.tunnel).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    },
  );
}
