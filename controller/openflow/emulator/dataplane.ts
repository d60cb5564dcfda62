import { u32ToIpv4 } from "../../../contract/dataplane/index.ts";
import { type Action, type FlowMod, OFPP } from "../../../proto/index.ts";
import { decodeEntry, type Entry } from "./flow-table.ts";

/**
 * Just enough of a switch's data plane to carry the controller's probes between emulated switches:
 * exact-match lookup by priority over the fields our pipeline uses, SET_FIELD of the tunnel
 * destination and key, output to the tunnel, to vint0 or to the controller. Plus a model of the
 * one thing priming is for: a switch drops packets to a tunnel destination whose next hop it has
 * not resolved yet, for `neighborDelayMs` after the first one (OVS's ARP for the underlay).
 */
export interface PacketFields {
  readonly ethType: number;
  readonly ipv4Src?: string;
  readonly ipv4Dst?: string;
  readonly ipProto?: number;
  readonly udpSrc?: number;
  readonly udpDst?: number;
  readonly arpTpa?: string;
}

export interface PacketMeta {
  readonly inPort: number;
  readonly tunId?: bigint;
  readonly tunSrc?: string;
}

/** Where a packet goes after the pipeline. */
export type Output =
  | { readonly kind: "tunnel"; readonly tunDst: string; readonly tunId: bigint }
  | { readonly kind: "controller"; readonly entry: Entry | undefined; readonly maxLen: number }
  | { readonly kind: "port"; readonly port: number };

export function parseFrame(frame: Uint8Array): PacketFields {
  if (frame.length < 14) return { ethType: 0 };
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  const ethType = v.getUint16(12);
  if (ethType === 0x0806 && frame.length >= 42) return { ethType, arpTpa: u32ToIpv4(v.getUint32(38)) };
  if (ethType !== 0x0800 || frame.length < 34) return { ethType };
  const ihl = (v.getUint8(14) & 0x0f) * 4;
  const ipProto = v.getUint8(23);
  const base = { ethType, ipv4Src: u32ToIpv4(v.getUint32(26)), ipv4Dst: u32ToIpv4(v.getUint32(30)), ipProto };
  const l4 = 14 + ihl;
  if (ipProto !== 17 || frame.length < l4 + 8) return base;
  return { ...base, udpSrc: v.getUint16(l4), udpDst: v.getUint16(l4 + 2) };
}

function fieldMatches(f: FlowMod["match"][number], meta: PacketMeta, p: PacketFields): boolean {
  switch (f.field) {
    case "IN_PORT":
      return f.value === meta.inPort;
    case "ETH_TYPE":
      return f.value === p.ethType;
    case "IPV4_SRC":
      return f.value === p.ipv4Src;
    case "IPV4_DST":
      return f.value === p.ipv4Dst;
    case "ARP_TPA":
      return f.value === p.arpTpa;
    case "IP_PROTO":
      return f.value === p.ipProto;
    case "UDP_SRC":
      return f.value === p.udpSrc;
    case "UDP_DST":
      return f.value === p.udpDst;
    case "TUNNEL_ID":
      return f.value === meta.tunId;
    case "TUN_IPV4_SRC":
      return f.value === meta.tunSrc;
    default:
      return false;
  }
}

/** Runs `actions` on a packet; tunnel fields set before an OUTPUT go with it. */
export function applyActions(actions: readonly Action[], entry: Entry | undefined): Output[] {
  let tunDst: string | undefined;
  let tunId: bigint | undefined;
  const out: Output[] = [];
  for (const a of actions) {
    if (a.kind === "SET_FIELD" && a.oxm.field === "TUN_IPV4_DST") tunDst = a.oxm.value;
    else if (a.kind === "SET_FIELD" && a.oxm.field === "TUNNEL_ID") tunId = a.oxm.value;
    else if (a.kind === "OUTPUT") {
      if (a.port === OFPP.CONTROLLER) out.push({ kind: "controller", entry, maxLen: a.maxLen });
      else if (a.port === 1 && tunDst !== undefined) out.push({ kind: "tunnel", tunDst, tunId: tunId ?? 0n });
      else out.push({ kind: "port", port: a.port });
    }
  }
  return out;
}

/**
 * Lookups through one table, remembered per packet header until the table changes: a probe
 * stream sends the same header every millisecond, and tables change a few times per rebind.
 */
export class LookupCache {
  #version = -1;
  readonly #cache = new Map<string, Output[]>();

  lookup(version: number, entries: () => Iterable<Entry>, meta: PacketMeta, p: PacketFields): Output[] {
    if (version !== this.#version) {
      this.#cache.clear();
      this.#version = version;
    }
    const key = `${meta.inPort}|${meta.tunId ?? ""}|${meta.tunSrc ?? ""}|${p.ethType}|${p.ipv4Src ?? ""}|${p.ipv4Dst ?? ""}|${p.ipProto ?? ""}|${p.udpSrc ?? ""}|${p.udpDst ?? ""}|${p.arpTpa ?? ""}`;
    let out = this.#cache.get(key);
    if (!out) {
      out = scan(entries(), meta, p);
      if (this.#cache.size > 1024) this.#cache.clear();
      this.#cache.set(key, out);
    }
    return out;
  }
}

/** The highest-priority entry that matches (one pass, no sort). */
function scan(entries: Iterable<Entry>, meta: PacketMeta, p: PacketFields): Output[] {
  let best: { entry: Entry; mod: FlowMod } | undefined;
  for (const entry of entries) {
    if (best && entry.priority <= best.entry.priority) continue;
    const mod = decodeEntry(entry);
    if (mod.match.every((f) => fieldMatches(f, meta, p))) best = { entry, mod };
  }
  if (!best) return [];
  const actions = best.mod.instructions.flatMap((i) => (i.kind === "APPLY_ACTIONS" ? i.actions : []));
  return applyActions(actions, best.entry);
}

/** Something a tunnel packet can be delivered to. */
export interface TunnelEnd {
  fromTunnel(tunSrc: string, tunId: bigint, frame: Uint8Array): void;
}

/** The underlay between emulated switches: tunnel packets go to whoever holds the destination address. */
export class EmulatedNetwork {
  readonly #ends = new Map<string, Set<TunnelEnd>>();
  /** How long a switch drops packets toward a new tunnel destination (0: never). */
  neighborDelayMs: number;
  /** Packets dropped while a next hop resolved. */
  droppedUnresolved = 0;

  constructor(options: { neighborDelayMs?: number } = {}) {
    this.neighborDelayMs = options.neighborDelayMs ?? 0;
  }

  attach(address: string, end: TunnelEnd): void {
    let set = this.#ends.get(address);
    if (!set) {
      set = new Set();
      this.#ends.set(address, set);
    }
    set.add(end);
  }

  detach(address: string, end: TunnelEnd): void {
    this.#ends.get(address)?.delete(end);
  }

  /** Sends from a switch whose own neighbour table is `resolved`; false when dropped. */
  send(
    resolved: Map<string, number>,
    from: string,
    tunDst: string,
    tunId: bigint,
    frame: Uint8Array,
  ): boolean {
    if (this.neighborDelayMs > 0) {
      const now = performance.now();
      const readyAt = resolved.get(tunDst);
      if (readyAt === undefined) resolved.set(tunDst, now + this.neighborDelayMs);
      if (readyAt === undefined || now < readyAt) {
        this.droppedUnresolved++;
        return false;
      }
    }
    const ends = this.#ends.get(tunDst);
    if (!ends) return false;
    const copy = new Uint8Array(frame);
    setImmediate(() => {
      for (const end of ends) end.fromTunnel(from, tunId, copy);
    });
    return true;
  }
}
