import { formatMac, parseMac } from "./wire/addresses.ts";
import type { Reader } from "./wire/reader.ts";
import type { Writer } from "./wire/writer.ts";

/** ofp_port_config bits. */
export const OFPPC = { PORT_DOWN: 1 << 0, NO_RECV: 1 << 2, NO_FWD: 1 << 5, NO_PACKET_IN: 1 << 6 } as const;

/** ofp_port_state bits. */
export const OFPPS = { LINK_DOWN: 1 << 0, BLOCKED: 1 << 1, LIVE: 1 << 2 } as const;

/** ofp_port_features bits (curr, advertised, supported, peer). */
export const OFPPF = {
  "10MB_HD": 1 << 0,
  "10MB_FD": 1 << 1,
  "100MB_HD": 1 << 2,
  "100MB_FD": 1 << 3,
  "1GB_HD": 1 << 4,
  "1GB_FD": 1 << 5,
  "10GB_FD": 1 << 6,
  "40GB_FD": 1 << 7,
  "100GB_FD": 1 << 8,
  "1TB_FD": 1 << 9,
  OTHER: 1 << 10,
  COPPER: 1 << 11,
  FIBER: 1 << 12,
  AUTONEG: 1 << 13,
  PAUSE: 1 << 14,
  PAUSE_ASYM: 1 << 15,
} as const;

export const OFP_MAX_PORT_NAME_LEN = 16;
export const OFP_PORT_LEN = 64;

/** ofp_port: a switch port's description (FEATURES, PORT_STATUS, PORT_DESC). */
export interface OfpPort {
  portNo: number;
  /** "aa:bb:cc:dd:ee:ff", lower case as decoded */
  hwAddr: string;
  name: string;
  /** OFPPC_* bits */
  config: number;
  /** OFPPS_* bits */
  state: number;
  /** OFPPF_* bits */
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  /** kbps */
  currSpeed: number;
  maxSpeed: number;
}

export function encodePort(w: Writer, p: OfpPort): void {
  w.u32(p.portNo, "portNo").zeros(4);
  w.bytes(parseMac(p.hwAddr, "hwAddr", w.offset))
    .zeros(2)
    .fixedString(p.name, OFP_MAX_PORT_NAME_LEN, "port name")
    .u32(p.config, "config")
    .u32(p.state, "state")
    .u32(p.curr, "curr")
    .u32(p.advertised, "advertised")
    .u32(p.supported, "supported")
    .u32(p.peer, "peer")
    .u32(p.currSpeed, "currSpeed")
    .u32(p.maxSpeed, "maxSpeed");
}

/** Reads one 64-byte ofp_port; a short input is TRUNCATED, never a partial port. */
export function decodePort(r: Reader): OfpPort {
  const p = r.sub(OFP_PORT_LEN, "ofp_port");
  const portNo = p.u32("port_no");
  p.skip(4);
  const hwAddr = formatMac(p.bytesCopy(6, "hw_addr"));
  p.skip(2);
  return {
    portNo,
    hwAddr,
    name: p.fixedString(OFP_MAX_PORT_NAME_LEN, "name"),
    config: p.u32("config"),
    state: p.u32("state"),
    curr: p.u32("curr"),
    advertised: p.u32("advertised"),
    supported: p.u32("supported"),
    peer: p.u32("peer"),
    currSpeed: p.u32("curr_speed"),
    maxSpeed: p.u32("max_speed"),
  };
}
