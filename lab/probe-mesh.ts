/**
 * A probe mesh: every member of a cluster sends a stream to every other member's vint0 and
 * receives theirs, so a migration can be judged by what each pair lost. One process per VM
 * instance (run in its namespace, `ip netns exec NS node lab/probe-mesh.ts ...`):
 *
 *     node lab/probe-mesh.ts --self 198.18.0.11 --gen 0 --peers 198.18.0.12,198.18.0.13 \
 *         [--port 47100] [--rate 100] [--max-s 900]
 *
 * Each tick it sends sequence number `seq` to every peer (a datagram naming the sender's vint0,
 * its generation and the send time, epoch ms) and records what arrived. A moved member's old and
 * new instance run one node each (generation 0 and 1, same vint0). The node listens on 0.0.0.0,
 * so it can start in a new instance before its vint0 exists. It prints JSON lines every 100 ms
 * (`{"sent":[[seq,at]...]}`, `{"got":[[from,gen,seq,sentAt,at]...]}`), so what it saw survives
 * the instance being deleted under it (a released source); it says `ready` on stderr once it
 * listens, and ends on SIGTERM or after `max-s`.
 *
 * `meshReport` (pure) judges the records: a sender's packets count only inside its instance's
 * window (an old instance until its member's new endpoint is announced, a new one from its
 * rebind on: in between the member is changing instances), and a packet is received when any
 * instance of its destination got it.
 */
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";

export const DEFAULT_MESH_PORT = 47100;
const PAYLOAD = 64;
const FLUSH_MS = 100;

const now = (): number => performance.timeOrigin + performance.now();

/** One arrival: the sender's vint0, its generation, the sequence number, send and arrival time (epoch ms). */
export type MeshArrival = readonly [from: string, gen: number, seq: number, sentAt: number, at: number];

/** What one node (one instance of a member) printed. */
export interface MeshNodeRecord {
  readonly member: string;
  readonly vint0: string;
  readonly gen: number;
  /** [seq, send time] of every tick (each tick sends that seq to every peer). */
  readonly sent: readonly (readonly [number, number])[];
  readonly got: readonly MeshArrival[];
}

/** When an instance's packets count: [from, to) in epoch ms (null: unbounded). */
export interface SenderWindow {
  readonly member: string;
  readonly gen: number;
  readonly from: number | null;
  readonly to: number | null;
}

export interface PairReport {
  readonly from: string;
  readonly to: string;
  /** Packets sent inside their sender's window. */
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  /** Longest time between two consecutive arrivals of the pair's packets (ms), per sender instance. */
  readonly longestGapMs: number;
}

export interface MeshReport {
  readonly pairs: readonly PairReport[];
  readonly sent: number;
  readonly lost: number;
  readonly longestGapMs: number;
}

function inWindow(w: SenderWindow | undefined, at: number): boolean {
  if (!w) return true;
  return (w.from === null || at >= w.from) && (w.to === null || at < w.to);
}

/** Per ordered pair of members: packets sent in their window, received by any instance of the destination. */
export function meshReport(nodes: readonly MeshNodeRecord[], windows: readonly SenderWindow[]): MeshReport {
  const members = [...new Map(nodes.map((n) => [n.member, n.vint0])).entries()];
  const windowOf = new Map(windows.map((w) => [`${w.member}/${w.gen}`, w]));
  const pairs: PairReport[] = [];
  for (const [from, fromVint0] of members) {
    for (const [to] of members) {
      if (to === from) continue;
      // First arrival of each (generation, seq) at any instance of `to`.
      const arrived = new Map<string, number>();
      for (const n of nodes.filter((x) => x.member === to)) {
        for (const [src, gen, seq, , at] of n.got) {
          if (src !== fromVint0) continue;
          const key = `${gen}/${seq}`;
          const prev = arrived.get(key);
          if (prev === undefined || at < prev) arrived.set(key, at);
        }
      }
      let sent = 0;
      let received = 0;
      let longestGapMs = 0;
      for (const n of nodes.filter((x) => x.member === from)) {
        const w = windowOf.get(`${from}/${n.gen}`);
        const arrivals: number[] = [];
        for (const [seq, at] of n.sent) {
          if (!inWindow(w, at)) continue;
          sent++;
          const got = arrived.get(`${n.gen}/${seq}`);
          if (got !== undefined) {
            received++;
            arrivals.push(got);
          }
        }
        arrivals.sort((a, b) => a - b);
        for (let i = 1; i < arrivals.length; i++)
          longestGapMs = Math.max(longestGapMs, arrivals[i]! - arrivals[i - 1]!);
      }
      pairs.push({ from, to, sent, received, lost: sent - received, longestGapMs });
    }
  }
  return {
    pairs,
    sent: pairs.reduce((s, p) => s + p.sent, 0),
    lost: pairs.reduce((s, p) => s + p.lost, 0),
    longestGapMs: Math.max(0, ...pairs.map((p) => p.longestGapMs)),
  };
}

/** Parses a node's JSON lines (a partial last line, cut by a kill, is ignored). */
export function parseNodeOutput(member: string, vint0: string, gen: number, output: string): MeshNodeRecord {
  const sent: [number, number][] = [];
  const got: MeshArrival[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    let rec: { sent?: [number, number][]; got?: MeshArrival[] };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.sent) sent.push(...rec.sent);
    if (rec.got) got.push(...rec.got);
  }
  return { member, vint0, gen, sent, got };
}

function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split(".").map(Number));
}

/** The node: sends and receives until SIGTERM or `maxS`, printing its records as JSON lines. */
async function runNode(opts: {
  self: string;
  gen: number;
  peers: readonly string[];
  port: number;
  rate: number;
  maxS: number;
}): Promise<void> {
  const sock = createSocket("udp4");
  let sent: [number, number][] = [];
  let got: MeshArrival[] = [];
  sock.on("message", (msg) => {
    if (msg.length < 17) return;
    const from = [...msg.subarray(5, 9)].join(".");
    got.push([from, msg.readUInt8(4), msg.readUInt32BE(0), msg.readDoubleBE(9), now()]);
  });
  // A send error (no route yet in a booting instance, ENOBUFS) is a lost probe, not a failed node.
  sock.on("error", () => {});
  await new Promise<void>((resolve) => sock.bind({ address: "0.0.0.0", port: opts.port }, resolve));
  // The caller waits for this line before it counts this node's peers' packets.
  process.stderr.write("ready\n");
  const flush = (): void => {
    if (sent.length > 0) process.stdout.write(`${JSON.stringify({ sent })}\n`);
    if (got.length > 0) process.stdout.write(`${JSON.stringify({ got })}\n`);
    sent = [];
    got = [];
  };
  const self = ipBytes(opts.self);
  const start = now();
  const end = start + opts.maxS * 1000;
  let seq = 0;
  let lastFlush = start;
  let stopped = false;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      stopped = true;
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    const tick = (): void => {
      if (stopped) return;
      const t = now();
      // Catch up with the schedule: timers fire about every millisecond, not exactly.
      const due = Math.floor(((t - start) * opts.rate) / 1000) + 1;
      while (seq < due) {
        const at = now();
        const buf = Buffer.alloc(PAYLOAD);
        buf.writeUInt32BE(seq, 0);
        buf.writeUInt8(opts.gen, 4);
        self.copy(buf, 5);
        buf.writeDoubleBE(at, 9);
        for (const p of opts.peers) sock.send(buf, opts.port, p);
        sent.push([seq, Math.round(at * 10) / 10]);
        seq++;
      }
      if (t - lastFlush >= FLUSH_MS) {
        flush();
        lastFlush = t;
      }
      if (t > end) stop();
      else setTimeout(tick, 1);
    };
    tick();
  });
  flush();
  sock.close();
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      self: { type: "string" },
      gen: { type: "string", default: "0" },
      peers: { type: "string" },
      port: { type: "string", default: String(DEFAULT_MESH_PORT) },
      rate: { type: "string", default: "100" },
      "max-s": { type: "string", default: "900" },
    },
  });
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/;
  const peers = (values.peers ?? "").split(",").filter(Boolean);
  const nums = [values.gen, values.port, values.rate, values["max-s"]].map(Number);
  if (!values.self || !ip.test(values.self) || peers.length === 0 || !peers.every((p) => ip.test(p))) {
    process.stderr.write(
      "usage: node lab/probe-mesh.ts --self IP --peers IP,IP [--gen N] (see the header)\n",
    );
    process.exitCode = 2;
  } else if (!nums.every((n) => Number.isInteger(n) && n >= 0) || nums[2] === 0) {
    process.stderr.write("--gen, --port, --rate and --max-s must be integers (rate > 0)\n");
    process.exitCode = 2;
  } else {
    const [gen, port, rate, maxS] = nums as [number, number, number, number];
    runNode({ self: values.self, gen, peers, port, rate, maxS }).catch((err: unknown) => {
      process.stderr.write(`probe-mesh: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
  }
}
