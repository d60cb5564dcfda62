import { u32ToIpv4 } from "../contract/dataplane/index.ts";

/** A TCP connection's remote end. */
export interface TcpPeer {
  address: string;
  port: number;
}

const TCP_ESTABLISHED = "01";

/**
 * Remote ends of the ESTABLISHED IPv4 connections in a /proc/net/tcp text. The kernel prints
 * each address as the 32-bit network-order value read as a host integer (%08X), so on a
 * little-endian machine 127.0.0.1 reads "0100007F"; ports are printed in host order.
 */
export function establishedPeers(procNetTcp: string, littleEndian: boolean): TcpPeer[] {
  const peers: TcpPeer[] = [];
  for (const line of procNetTcp.split("\n")) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st ...
    const rem = f[2];
    if (f[3] !== TCP_ESTABLISHED || rem === undefined || !/^[0-9A-F]{8}:[0-9A-F]{4}$/i.test(rem)) continue;
    const raw = Number.parseInt(rem.slice(0, 8), 16);
    const n = littleEndian
      ? (((raw & 0xff) << 24) |
          (((raw >>> 8) & 0xff) << 16) |
          (((raw >>> 16) & 0xff) << 8) |
          (raw >>> 24)) >>>
        0
      : raw;
    peers.push({ address: u32ToIpv4(n), port: Number.parseInt(rem.slice(9), 16) });
  }
  return peers;
}

/** `tcp:1.2.3.4:6653` -> {1.2.3.4, 6653}. Targets are validated and canonical (validate.ts). */
export function targetPeer(target: string): TcpPeer {
  const [, address, port] = target.split(":");
  return { address: address!, port: Number(port) };
}

/**
 * TCP's CurrEstab counter (connections in ESTABLISHED or CLOSE-WAIT) from a /proc/net/snmp text:
 * per network namespace, and cheap to read (tens of microseconds, where /proc/net/tcp walks the
 * whole connection hash table: a millisecond or more).
 */
export function currEstab(procNetSnmp: string): number | undefined {
  const lines = procNetSnmp.split("\n").filter((l) => l.startsWith("Tcp:"));
  const names = lines[0]?.trim().split(/\s+/);
  const values = lines[1]?.trim().split(/\s+/);
  const i = names?.indexOf("CurrEstab") ?? -1;
  if (i < 0 || values?.[i] === undefined) return undefined;
  const n = Number(values[i]);
  return Number.isInteger(n) ? n : undefined;
}
