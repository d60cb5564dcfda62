import { ipv4ToU32 } from "../../contract/dataplane/index.ts";

/**
 * The controller's probe packets (pure): Ethernet + IPv4 + UDP between probe ports, from one
 * member's vint0 address to another's, so that a peer's egress rule sends them through the tunnel
 * and the receiver's probe rule hands them to the controller. The payload says which controller
 * (a random nonce per process), which rebind watch, which link and which probe it is.
 */
export const PROBE_KIND = { DOWNTIME: 1, PRIME: 2 } as const;
export type ProbeKind = (typeof PROBE_KIND)[keyof typeof PROBE_KIND];

export interface ProbeTag {
  readonly nonce: Uint8Array;
  readonly watch: number;
  readonly link: number;
  readonly kind: ProbeKind;
  readonly seq: number;
}

const MAGIC = new TextEncoder().encode("icsdnPRB");
const ETH_LEN = 14;
const IP_LEN = 20;
const UDP_LEN = 8;
/** magic 8, nonce 8, watch u32, link u16, kind u8, pad u8, seq u32, pad u32 */
const PAYLOAD_LEN = 32;
export const PROBE_FRAME_LEN = ETH_LEN + IP_LEN + UDP_LEN + PAYLOAD_LEN;
export const NONCE_LEN = 8;

/** Locally administered MACs: the frame never reaches a VM (the probe rule sends it to us). */
const SRC_MAC = [0x02, 0x1c, 0, 0, 0, 0x01];
const DST_MAC = [0x02, 0x1c, 0, 0, 0, 0x02];

function ipChecksum(bytes: Uint8Array, at: number, len: number): number {
  let sum = 0;
  for (let i = at; i < at + len; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function probeFrame(from: string, to: string, port: number, tag: ProbeTag): Uint8Array {
  if (tag.nonce.length !== NONCE_LEN) throw new RangeError(`probe nonce must be ${NONCE_LEN} bytes`);
  const b = new Uint8Array(PROBE_FRAME_LEN);
  const v = new DataView(b.buffer);
  b.set(DST_MAC, 0);
  b.set(SRC_MAC, 6);
  v.setUint16(12, 0x0800);
  const ip = ETH_LEN;
  v.setUint8(ip, 0x45);
  v.setUint16(ip + 2, IP_LEN + UDP_LEN + PAYLOAD_LEN);
  v.setUint16(ip + 4, tag.seq & 0xffff);
  v.setUint16(ip + 6, 0x4000); // don't fragment
  v.setUint8(ip + 8, 64);
  v.setUint8(ip + 9, 17);
  v.setUint32(ip + 12, ipv4ToU32(from));
  v.setUint32(ip + 16, ipv4ToU32(to));
  v.setUint16(ip + 10, ipChecksum(b, ip, IP_LEN));
  const udp = ip + IP_LEN;
  v.setUint16(udp, port);
  v.setUint16(udp + 2, port);
  v.setUint16(udp + 4, UDP_LEN + PAYLOAD_LEN);
  // UDP checksum 0: "none", allowed over IPv4.
  const p = udp + UDP_LEN;
  b.set(MAGIC, p);
  b.set(tag.nonce, p + 8);
  v.setUint32(p + 16, tag.watch);
  v.setUint16(p + 20, tag.link);
  v.setUint8(p + 22, tag.kind);
  v.setUint32(p + 24, tag.seq);
  return b;
}

/** The tag of one of our probes, or undefined for any other packet (or another controller's). */
export function readProbe(frame: Uint8Array, port: number, nonce: Uint8Array): ProbeTag | undefined {
  if (frame.length < PROBE_FRAME_LEN) return undefined;
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  if (v.getUint16(12) !== 0x0800 || v.getUint8(ETH_LEN) !== 0x45 || v.getUint8(ETH_LEN + 9) !== 17)
    return undefined;
  const udp = ETH_LEN + IP_LEN;
  if (v.getUint16(udp) !== port || v.getUint16(udp + 2) !== port) return undefined;
  const p = udp + UDP_LEN;
  for (let i = 0; i < MAGIC.length; i++) if (frame[p + i] !== MAGIC[i]) return undefined;
  for (let i = 0; i < NONCE_LEN; i++) if (frame[p + 8 + i] !== nonce[i]) return undefined;
  const kind = v.getUint8(p + 22);
  if (kind !== PROBE_KIND.DOWNTIME && kind !== PROBE_KIND.PRIME) return undefined;
  return {
    nonce,
    watch: v.getUint32(p + 16),
    link: v.getUint16(p + 20),
    kind,
    seq: v.getUint32(p + 24),
  };
}
