import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import type { MultipartBodyCodec } from "./body.ts";
import { OFPMP } from "./body.ts";

export interface PortStatsRequestBody {
  kind: "PORT_STATS";
  /** a port, or OFPP.ANY for all */
  portNo: number;
}

/** ofp_port_stats. A counter the switch does not keep reads all ones (2^64-1). */
export interface PortStats {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxFrameErr: bigint;
  rxOverErr: bigint;
  rxCrcErr: bigint;
  collisions: bigint;
  /** time the port has been alive */
  durationSec: number;
  durationNsec: number;
}

export interface PortStatsReplyBody {
  kind: "PORT_STATS";
  ports: PortStats[];
}

const PORT_STATS_LEN = 112;

/** The twelve u64 counters in wire order. */
const COUNTERS = [
  "rxPackets",
  "txPackets",
  "rxBytes",
  "txBytes",
  "rxDropped",
  "txDropped",
  "rxErrors",
  "txErrors",
  "rxFrameErr",
  "rxOverErr",
  "rxCrcErr",
  "collisions",
] as const;

function encodePortStats(w: Writer, p: PortStats): void {
  w.u32(p.portNo, "portNo").zeros(4);
  for (const c of COUNTERS) w.u64(p[c], c);
  w.u32(p.durationSec, "durationSec").u32(p.durationNsec, "durationNsec");
}

function decodePortStats(r: Reader): PortStats {
  const portNo = r.u32("port_no");
  r.skip(4);
  const counters = Object.fromEntries(COUNTERS.map((c) => [c, r.u64(c)])) as Record<
    (typeof COUNTERS)[number],
    bigint
  >;
  return {
    portNo,
    ...counters,
    durationSec: r.u32("duration_sec"),
    durationNsec: r.u32("duration_nsec"),
  };
}

export const portStatsRequestCodec: MultipartBodyCodec<PortStatsRequestBody> = {
  mpType: OFPMP.PORT_STATS,
  encode(w, b) {
    w.u32(b.portNo, "portNo").zeros(4);
  },
  decode(r) {
    const portNo = r.u32("port_no");
    r.skip(4);
    return { kind: "PORT_STATS", portNo };
  },
};

export const portStatsReplyCodec: MultipartBodyCodec<PortStatsReplyBody> = {
  mpType: OFPMP.PORT_STATS,
  encode(w, b) {
    for (const p of b.ports) encodePortStats(w, p);
  },
  decode(r) {
    const ports: PortStats[] = [];
    while (!r.atEnd) ports.push(decodePortStats(r.sub(PORT_STATS_LEN, "ofp_port_stats")));
    return { kind: "PORT_STATS", ports };
  },
};
