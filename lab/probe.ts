/**
 * The in-VM probe stream: DESIGN.md's downtime measured between two `vint0`s, as an application
 * would see it. Run inside a lab VM's namespace (`ip netns exec <ns> node lab/probe.ts ...` or
 * `icsdn lab exec vmN -- node lab/probe.ts ...`):
 *
 *     node lab/probe.ts send --from 198.18.0.2 --to 198.18.0.1 [--port 47000] [--rate 1000] [--count 3000]
 *     node lab/probe.ts recv --on 198.18.0.1 [--port 47000] [--duration-ms 5000] [--idle-ms 0] [--arrivals]
 *     node lab/probe.ts vxlan --to 203.0.113.33 --vni 43 --mac 02:1c:c6:12:00:01 --ip 198.18.0.1 [--count 5]
 *     node lab/probe.ts gre --to 203.0.113.33 --vni 43 --mac 02:1c:c6:12:00:01 --ip 198.18.0.1 [--count 5]
 *
 * `send` sends `count` UDP datagrams at `rate` per second (a 4-byte sequence number and an 8-byte
 * send time, epoch ms), bounded by count and by count/rate + 2 s, then prints
 * `{"sent","firstAt","lastAt","elapsedMs"}`. `recv` records arrivals until `duration-ms` has passed
 * (or, with `idle-ms`, that long after the last arrival), then prints the summary: received, lost
 * (packets missing below the highest sequence seen), longest gap between consecutive arrivals
 * (ms) = the downtime, and when that gap began (epoch ms); with `--arrivals` also every
 * [seq, arrival time]. Arrival times are epoch ms (performance.timeOrigin + now()), so the
 * receivers of a moved VM's old and new instance can be merged (`summarize`).
 *
 * `vxlan` sends `count` (at most 100) hand-made VXLAN datagrams to UDP 4789 of an underlay
 * address, each carrying an Ethernet/IPv4/UDP frame for `mac`/`ip`: what an internet host (or a
 * member with the wrong VNI) would inject into a cluster. Prints `{"sent"}`. `gre` does the same
 * with GRE packets (IP protocol 47, key = VNI, as OVS's `key=flow` GRE ports expect), sent from a
 * raw socket by Debian's python3 (Node has no raw sockets).
 */
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";

export const DEFAULT_PROBE_STREAM_PORT = 47000;
const PAYLOAD = 64;

/** One received datagram: sequence number and arrival time (epoch ms, sub-ms resolution). */
export type Arrival = readonly [seq: number, at: number];

export interface StreamSummary {
  readonly sent: number | null;
  readonly received: number;
  readonly lost: number;
  /** Longest time between two consecutive arrivals (ms): DESIGN.md's downtime. */
  readonly longestGapMs: number;
  /** When that gap began (epoch ms), null with fewer than two arrivals. */
  readonly gapAt: number | null;
  /** Sequence numbers on either side of the gap. */
  readonly gapSeqs: readonly [number, number] | null;
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

export interface SendReport {
  readonly sent: number;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly elapsedMs: number;
}

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Figures of one stream from the arrivals of one or more receivers (a moved VM's old and new
 * instance both listen): duplicates count once, arrivals are ordered by time. `sent` is the
 * sender's count; without it, lost counts the gaps below the highest sequence seen.
 */
export function summarize(arrivals: readonly Arrival[], sent: number | null = null): StreamSummary {
  const firstBySeq = new Map<number, number>();
  for (const [seq, at] of arrivals) {
    const prev = firstBySeq.get(seq);
    if (prev === undefined || at < prev) firstBySeq.set(seq, at);
  }
  const sorted = [...firstBySeq.entries()].sort((a, b) => a[1] - b[1]);
  let longestGapMs = 0;
  let gapAt: number | null = null;
  let gapSeqs: [number, number] | null = null;
  for (let i = 1; i < sorted.length; i++) {
    const [seqA, a] = sorted[i - 1]!;
    const [seqB, b] = sorted[i]!;
    if (b - a > longestGapMs) {
      longestGapMs = b - a;
      gapAt = a;
      gapSeqs = [seqA, seqB];
    }
  }
  const received = sorted.length;
  let maxSeq = -1;
  for (const seq of firstBySeq.keys()) if (seq > maxSeq) maxSeq = seq;
  const expected = sent ?? maxSeq + 1;
  return {
    sent,
    received,
    lost: Math.max(0, expected - received),
    longestGapMs,
    gapAt,
    gapSeqs,
    firstAt: sorted[0]?.[1] ?? null,
    lastAt: sorted.at(-1)?.[1] ?? null,
  };
}

/** Sends `count` probes at `rate` per second from `from` to `to`:`port`. */
export async function send(opts: {
  from: string;
  to: string;
  port: number;
  rate: number;
  count: number;
}): Promise<SendReport> {
  const sock = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind({ address: opts.from, port: 0 }, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  // A send error (no route, ENOBUFS) is a lost probe, not a failed run.
  sock.on("error", () => {});
  const deadline = now() + (opts.count / opts.rate) * 1000 + 2000;
  const start = now();
  let sent = 0;
  let lastAt = start;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      // Catch up with the schedule: timers fire about every millisecond, not exactly.
      const due = Math.min(opts.count, Math.floor(((t - start) * opts.rate) / 1000) + 1);
      while (sent < due) {
        const buf = Buffer.alloc(PAYLOAD);
        buf.writeUInt32BE(sent, 0);
        lastAt = now();
        buf.writeDoubleBE(lastAt, 4);
        sock.send(buf, opts.port, opts.to);
        sent++;
      }
      if (sent >= opts.count || t > deadline) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // Let the last datagrams leave before closing.
  await new Promise((r) => setTimeout(r, 20));
  sock.close();
  return { sent, firstAt: start, lastAt, elapsedMs: lastAt - start };
}

/** Receives probes on `on`:`port` for `durationMs` (or until `idleMs` after the last one). */
export async function receive(opts: {
  on: string;
  port: number;
  durationMs: number;
  idleMs: number;
  ready?: () => void;
}): Promise<Arrival[]> {
  const sock = createSocket("udp4");
  const arrivals: Arrival[] = [];
  let last = 0;
  sock.on("message", (msg) => {
    if (msg.length < 12) return;
    last = now();
    arrivals.push([msg.readUInt32BE(0), last]);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind({ address: opts.on, port: opts.port }, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  opts.ready?.();
  const end = now() + opts.durationMs;
  await new Promise<void>((resolve) => {
    const check = (): void => {
      const t = now();
      if (t >= end || (opts.idleMs > 0 && last > 0 && t - last >= opts.idleMs)) resolve();
      else setTimeout(check, 10);
    };
    check();
  });
  sock.close();
  return arrivals;
}

/** A VXLAN datagram (RFC 7348) carrying an Ethernet + IPv4 + UDP frame for `mac` / `ip`. */
export function vxlanDatagram(vni: number, mac: string, ip: string, seq: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(0x08, 0);
  header.writeUIntBE(vni, 4, 3);
  return Buffer.concat([header, injectedFrame(mac, ip, seq)]);
}

/** A GRE packet (RFC 2890, key present) carrying the same frame, bridged (protocol 0x6558). */
export function grePacket(key: number, mac: string, ip: string, seq: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x2000, 0);
  header.writeUInt16BE(0x6558, 2);
  header.writeUInt32BE(key, 4);
  return Buffer.concat([header, injectedFrame(mac, ip, seq)]);
}

/** Ethernet + IPv4 + UDP from 198.18.0.99 to `ip` (at `mac`), the payload naming `seq`. */
function injectedFrame(mac: string, ip: string, seq: number): Buffer {
  const payload = Buffer.from(`icsdn-inject ${seq}`);
  const udpLen = 8 + payload.length;
  const ipLen = 20 + udpLen;
  const frame = Buffer.alloc(14 + ipLen);
  Buffer.from(mac.split(":").map((h) => Number.parseInt(h, 16))).copy(frame, 0);
  Buffer.from([0x02, 0, 0, 0, 0, 0x99]).copy(frame, 6);
  frame.writeUInt16BE(0x0800, 12);
  const iph = 14;
  frame.writeUInt8(0x45, iph);
  frame.writeUInt16BE(ipLen, iph + 2);
  frame.writeUInt8(64, iph + 8);
  frame.writeUInt8(17, iph + 9);
  Buffer.from([198, 18, 0, 99]).copy(frame, iph + 12);
  Buffer.from(ip.split(".").map(Number)).copy(frame, iph + 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += frame.readUInt16BE(iph + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  frame.writeUInt16BE(~sum & 0xffff, iph + 10);
  const udp = iph + 20;
  frame.writeUInt16BE(47001, udp);
  frame.writeUInt16BE(47001, udp + 2);
  frame.writeUInt16BE(udpLen, udp + 4);
  payload.copy(frame, udp + 8);
  return frame;
}

async function inject(to: string, vni: number, mac: string, ip: string, count: number): Promise<number> {
  const sock = createSocket("udp4");
  let sent = 0;
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) =>
      sock.send(vxlanDatagram(vni, mac, ip, i), 4789, to, (err) => (err ? reject(err) : resolve())),
    );
    sent++;
    await new Promise((r) => setTimeout(r, 5));
  }
  sock.close();
  return sent;
}

/** Raw IP protocol 47 from this namespace: one packet per hex line on stdin, 5 ms apart. */
const RAW_GRE_SENDER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
n = 0
for line in sys.stdin:
    s.sendto(bytes.fromhex(line.strip()), (sys.argv[1], 0))
    n += 1
    time.sleep(0.005)
print(n)
`;

function injectGre(to: string, key: number, mac: string, ip: string, count: number): number {
  const packets = Array.from({ length: count }, (_, i) => grePacket(key, mac, ip, i).toString("hex"));
  const res = spawnSync("/usr/bin/python3", ["-c", RAW_GRE_SENDER, to], {
    input: `${packets.join("\n")}\n`,
    encoding: "utf8",
    timeout: 10_000,
  });
  if (res.status !== 0) throw new Error(`raw GRE sender failed: ${res.stderr || res.error?.message}`);
  return Number(res.stdout.trim());
}

function positiveInt(v: string | undefined, name: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`--${name} must be an integer 0..${max}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      on: { type: "string" },
      port: { type: "string" },
      rate: { type: "string" },
      count: { type: "string" },
      "duration-ms": { type: "string" },
      "idle-ms": { type: "string" },
      arrivals: { type: "boolean", default: false },
      vni: { type: "string" },
      mac: { type: "string" },
      ip: { type: "string" },
    },
  });
  const port = positiveInt(values.port, "port", DEFAULT_PROBE_STREAM_PORT, 65535);
  if (mode === "send") {
    if (!values.from || !values.to) throw new Error("send needs --from and --to");
    const rate = positiveInt(values.rate, "rate", 1000, 100_000);
    const count = positiveInt(values.count, "count", 3000, 1_000_000);
    if (rate === 0) throw new Error("--rate must be positive");
    const report = await send({ from: values.from, to: values.to, port, rate, count });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  if (mode === "recv") {
    if (!values.on) throw new Error("recv needs --on");
    const durationMs = positiveInt(values["duration-ms"], "duration-ms", 5000, 600_000);
    const idleMs = positiveInt(values["idle-ms"], "idle-ms", 0, 600_000);
    const arrivals = await receive({
      on: values.on,
      port,
      durationMs,
      idleMs,
      // The caller may wait for this line before starting the sender.
      ready: () => process.stderr.write("ready\n"),
    });
    const summary = summarize(arrivals);
    process.stdout.write(`${JSON.stringify(values.arrivals ? { ...summary, arrivals } : summary)}\n`);
    return 0;
  }
  if (mode === "vxlan") {
    if (!values.to || !values.mac || !values.ip) throw new Error("vxlan needs --to, --mac and --ip");
    const vni = positiveInt(values.vni, "vni", 42, 0xffffff);
    const count = positiveInt(values.count, "count", 5, 100);
    process.stdout.write(
      `${JSON.stringify({ sent: await inject(values.to, vni, values.mac, values.ip, count) })}\n`,
    );
    return 0;
  }
  if (mode === "gre") {
    if (!values.to || !values.mac || !values.ip) throw new Error("gre needs --to, --mac and --ip");
    const vni = positiveInt(values.vni, "vni", 42, 0xffffff);
    const count = positiveInt(values.count, "count", 5, 100);
    process.stdout.write(
      `${JSON.stringify({ sent: injectGre(values.to, vni, values.mac, values.ip, count) })}\n`,
    );
    return 0;
  }
  process.stderr.write("usage: node lab/probe.ts send|recv|vxlan|gre ... (see the file's header)\n");
  return 2;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`probe: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
