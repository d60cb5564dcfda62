/** Drives the lab through its CLI (`bin/icsdn lab ...`), as a person or another component would. */
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import type { StatusView } from "../../lab/lab.ts";

export const ICSDN = fileURLToPath(new URL("../../bin/icsdn", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function icsdn(
  args: string[],
  opts: { timeoutMs?: number; check?: boolean } = {},
): Promise<CliResult> {
  const res = await execa(ICSDN, args, { timeout: opts.timeoutMs ?? 60_000, reject: false });
  const out = { code: res.exitCode ?? 124, stdout: String(res.stdout), stderr: String(res.stderr) };
  if ((opts.check ?? true) && out.code !== 0) {
    throw new Error(`icsdn ${args.join(" ")}: exit ${out.code}\n${out.stderr}\n${out.stdout}`);
  }
  return out;
}

export class Lab {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }

  async up(...args: string[]): Promise<StatusView> {
    const res = await icsdn(["lab", "up", "--name", this.name, "--json", ...args], { timeoutMs: 90_000 });
    return JSON.parse(res.stdout) as StatusView;
  }

  async down(): Promise<CliResult> {
    return icsdn(["lab", "down", "--name", this.name], { timeoutMs: 60_000 });
  }

  async status(): Promise<StatusView> {
    return JSON.parse((await icsdn(["lab", "status", "--name", this.name, "--json"])).stdout) as StatusView;
  }

  exec(node: string, cmd: string[], opts: { timeoutMs?: number; check?: boolean } = {}): Promise<CliResult> {
    return icsdn(["lab", "exec", "--name", this.name, node, "--", ...cmd], opts);
  }

  /** Starts a command in a node without waiting for it (e.g. a capture); the caller awaits the promise. */
  spawn(node: string, cmd: string[], timeoutMs: number): ResultPromise {
    return execa(ICSDN, ["lab", "exec", "--name", this.name, node, "--", ...cmd], {
      timeout: timeoutMs,
      reject: false,
    });
  }

  lab(args: string[], opts: { timeoutMs?: number; check?: boolean } = {}): Promise<CliResult> {
    return icsdn(["lab", args[0] ?? "", "--name", this.name, ...args.slice(1)], opts);
  }

  /**
   * The flows of LAB-NOTES, installed with `ovs-ofctl add-flow` through `lab exec`: towards the peer's
   * vint0 (IP and ARP) into the tunnel to the peer's floating IP with key `vni`; from the tunnel with
   * that key to vint0. Replaces whatever flows the VM held.
   */
  async pointAt(vm: string, peerVint0: string, peerFloating: string, vni: number): Promise<void> {
    const out = `actions=set_field:${peerFloating}->tun_dst,set_field:${vni}->tun_id,output:enc0`;
    const flows = [
      `in_port=vint0,ip,nw_dst=${peerVint0} ${out}`,
      `in_port=vint0,arp,arp_tpa=${peerVint0} ${out}`,
      `in_port=enc0,tun_id=${vni} actions=output:vint0`,
    ];
    const script = [
      "ovs-ofctl -O OpenFlow13 del-flows icbr0",
      ...flows.map((f) => `ovs-ofctl -O OpenFlow13 add-flow icbr0 '${f}'`),
    ].join(" && ");
    await this.exec(vm, ["sh", "-c", script]);
  }

  /** Pings `dst` from `node` (bounded); returns how many replies came back. */
  async ping(node: string, dst: string, count = 3, intervalS = 0.2): Promise<number> {
    const res = await this.exec(
      node,
      ["ping", "-n", "-c", String(count), "-i", String(intervalS), "-W", "1", dst],
      {
        check: false,
        timeoutMs: 20_000,
      },
    );
    const m = /(\d+) received/.exec(res.stdout);
    return m ? Number(m[1]) : 0;
  }

  /** A 1-second TCP transfer with iperf3 between two VMs' vint0s; returns the bytes the receiver got. */
  async tcpTransfer(client: string, server: string, serverIp: string): Promise<number> {
    await this.exec(server, ["iperf3", "-s", "-1", "-D", "-B", serverIp]);
    // iperf3 -D returns before it listens.
    await new Promise((r) => setTimeout(r, 300));
    const res = await this.exec(
      client,
      ["iperf3", "-c", serverIp, "-t", "1", "-J", "--connect-timeout", "3000"],
      {
        timeoutMs: 20_000,
        check: false,
      },
    );
    const report = JSON.parse(res.stdout || "{}") as {
      end?: { sum_received?: { bytes?: number } };
      error?: string;
    };
    if (report.error) throw new Error(`iperf3: ${report.error}`);
    return report.end?.sum_received?.bytes ?? 0;
  }

  /**
   * Captures up to `count` packets matching `filter` on a router interface while `during` runs, with
   * tshark, and returns one line per packet: the fields asked for, space-separated.
   */
  async capture(
    router: string,
    intf: string,
    filter: string,
    fields: string[],
    count: number,
    during: () => Promise<unknown>,
  ): Promise<string[]> {
    const args = [
      "tshark",
      "-n",
      "-i",
      intf,
      "-f",
      filter,
      "-a",
      "duration:10",
      "-c",
      String(count),
      "-T",
      "fields",
    ];
    for (const f of fields) args.push("-e", f);
    args.push("-E", "separator=/s");
    const proc = this.spawn(router, args, 20_000);
    await new Promise<void>((resolve, reject) => {
      let seen = "";
      const timer = setTimeout(() => reject(new Error(`tshark did not start: ${seen}`)), 15_000);
      proc.stderr?.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes("Capturing on")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await during();
    const res = await proc;
    return String(res.stdout)
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  }
}

/** Every process whose command line mentions `needle` (ours: a lab's folder or mininet node prefix). */
export async function processesMatching(needle: string): Promise<string[]> {
  const res = await execa("pgrep", ["-af", needle], { reject: false });
  return String(res.stdout)
    .split("\n")
    .filter((l) => l.trim() && !l.includes("pgrep"));
}

export async function netnsList(): Promise<string[]> {
  const res = await execa("ip", ["netns", "list"], { reject: false });
  return String(res.stdout)
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

export async function rootLinks(): Promise<string[]> {
  const res = await execa("ip", ["-j", "link", "show"], { reject: false });
  return (JSON.parse(String(res.stdout)) as { ifname: string }[]).map((l) => l.ifname);
}
