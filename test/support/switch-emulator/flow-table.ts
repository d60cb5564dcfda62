import { decodeMessage, type FlowMod, type FlowStats, OFPTT } from "../../../proto/index.ts";

/**
 * The emulator's flow table, built for a thousand switches in one process: entries are kept as
 * the FLOW_MOD bytes they came in (xid aside) and interned, so the same rule sent to 999 switches
 * is one object; a FLOW_MOD is read at fixed offsets, not decoded. Decoding happens only for
 * what needs the fields (stats replies, forwarding probes), and is cached per entry.
 */
export interface Entry {
  readonly tableId: number;
  readonly priority: number;
  readonly cookie: bigint;
  /** The cookie's upper and lower 32 bits, for cheap masked comparisons. */
  readonly cookieHi: number;
  readonly cookieLo: number;
  /** Table, priority and match (fields in any order): what OpenFlow calls the same flow. */
  readonly identity: string;
  /** The match TLVs (bytes as latin1 text), sorted. */
  readonly fields: readonly string[];
  /** The FLOW_MOD as received, for decoding match and instructions on demand. */
  readonly bytes: Uint8Array;
}

/** ofp_flow_mod offsets (after the 8-byte header). */
const COOKIE = 8;
const COOKIE_MASK = 16;
const TABLE_ID = 24;
const COMMAND = 25;
const PRIORITY = 30;
const MATCH = 48;

const COMMANDS = ["ADD", "MODIFY", "MODIFY_STRICT", "DELETE", "DELETE_STRICT"] as const;
export type RawCommand = (typeof COMMANDS)[number];

/** A FLOW_MOD as the table reads it: header fields and its match, straight from the bytes. */
export interface RawFlowMod extends Entry {
  readonly command: RawCommand;
  readonly cookieMask: bigint;
}

/**
 * Interned FLOW_MODs by their bytes (xid aside), shared by every emulated switch in the process:
 * the same rule sent to 999 switches is read and kept once. Bounded: forgotten when too many.
 */
const interned = new Map<string, RawFlowMod>();
const MAX_INTERNED = 1_000_000;

function latin1(bytes: Uint8Array, at: number, len: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, len).toString("latin1");
}

/** Reads a FLOW_MOD (interned); throws RangeError on a malformed one. */
export function readFlowMod(bytes: Uint8Array): RawFlowMod {
  if (bytes.length < MATCH + 8) throw new RangeError(`FLOW_MOD of ${bytes.length} bytes is too short`);
  const key = latin1(bytes, 8, bytes.length - 8);
  const hit = interned.get(key);
  if (hit) return hit;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const command = COMMANDS[v.getUint8(COMMAND)];
  if (!command) throw new RangeError(`FLOW_MOD command ${v.getUint8(COMMAND)} is unknown`);
  const matchLen = v.getUint16(MATCH + 2);
  if (matchLen < 4 || MATCH + matchLen > bytes.length)
    throw new RangeError(`match length ${matchLen} is wrong`);
  const fields: string[] = [];
  for (let at = MATCH + 4; at < MATCH + matchLen; ) {
    const len = 4 + v.getUint8(at + 3);
    if (at + len > MATCH + matchLen) throw new RangeError("an OXM runs past its match");
    fields.push(latin1(bytes, at, len));
    at += len;
  }
  // Field order does not make another flow.
  fields.sort();
  const tableId = v.getUint8(TABLE_ID);
  const priority = v.getUint16(PRIORITY);
  // A copy (new Uint8Array copies; a Buffer's slice would be a view into the socket's chunk).
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(4, 0);
  const m: RawFlowMod = {
    command,
    tableId,
    priority,
    cookie: v.getBigUint64(COOKIE),
    cookieHi: v.getUint32(COOKIE),
    cookieLo: v.getUint32(COOKIE + 4),
    cookieMask: v.getBigUint64(COOKIE_MASK),
    identity: `${tableId}|${priority}|${fields.join("")}`,
    fields,
    bytes: copy,
  };
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(key, m);
  return m;
}

const decoded = new WeakMap<Entry, FlowMod>();

/** The entry as a decoded FLOW_MOD (cached). */
export function decodeEntry(e: Entry): FlowMod {
  let m = decoded.get(e);
  if (!m) {
    const d = decodeMessage(e.bytes);
    if (d.type !== "FLOW_MOD") throw new RangeError("an entry that is no FLOW_MOD");
    m = d;
    decoded.set(e, m);
  }
  return m;
}

function cookieMatches(e: Entry, m: RawFlowMod): boolean {
  if (m.cookieMask === 0n) return true;
  return (e.cookie & m.cookieMask) === (m.cookie & m.cookieMask);
}

/** Non-strict match: every field of the request is among the entry's (OpenFlow's "superset" rule). */
function fieldsCover(e: Entry, fields: readonly string[]): boolean {
  return fields.every((f) => e.fields.includes(f));
}

export class FlowTable {
  readonly #entries = new Map<string, Entry>();
  /** Bumped on every change, so forwarding can cache its sorted view. */
  version = 0;

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<Entry> {
    return this.#entries.values();
  }

  /** Applies one FLOW_MOD (OpenFlow 1.3 semantics for the commands we use, no overlap checks). */
  apply(m: RawFlowMod): void {
    this.version++;
    switch (m.command) {
      case "ADD":
        this.#entries.set(m.identity, m);
        return;
      case "MODIFY":
      case "MODIFY_STRICT":
        for (const [k, e] of this.#entries) {
          const hit = m.command === "MODIFY_STRICT" ? k === m.identity : fieldsCover(e, m.fields);
          if (hit && cookieMatches(e, m) && (m.tableId === OFPTT.ALL || e.tableId === m.tableId)) {
            // A modify keeps the entry's identity and takes the new instructions.
            this.#entries.set(k, {
              ...m,
              identity: e.identity,
              fields: e.fields,
              priority: e.priority,
              cookie: e.cookie,
              cookieHi: e.cookieHi,
              cookieLo: e.cookieLo,
            });
          }
        }
        return;
      case "DELETE_STRICT": {
        const e = this.#entries.get(m.identity);
        if (e && cookieMatches(e, m)) this.#entries.delete(m.identity);
        return;
      }
      case "DELETE":
        for (const [k, e] of this.#entries) {
          if (
            (m.tableId === OFPTT.ALL || e.tableId === m.tableId) &&
            cookieMatches(e, m) &&
            fieldsCover(e, m.fields)
          ) {
            this.#entries.delete(k);
          }
        }
        return;
    }
  }

  /** Entries a FLOW or AGGREGATE stats request selects (table, cookie mask; match and ports unfiltered). */
  select(filter: { tableId: number; cookie: bigint; cookieMask: bigint }): Entry[] {
    const out: Entry[] = [];
    // 32-bit halves: a thousand switches' recounts make bigint arithmetic the cost here.
    const maskHi = Number(filter.cookieMask >> 32n);
    const maskLo = Number(filter.cookieMask & 0xffff_ffffn);
    const wantHi = (Number(filter.cookie >> 32n) & maskHi) >>> 0;
    const wantLo = (Number(filter.cookie & 0xffff_ffffn) & maskLo) >>> 0;
    for (const e of this.#entries.values()) {
      if (filter.tableId !== OFPTT.ALL && e.tableId !== filter.tableId) continue;
      if ((e.cookieHi & maskHi) >>> 0 !== wantHi || (e.cookieLo & maskLo) >>> 0 !== wantLo) continue;
      out.push(e);
    }
    return out;
  }
}

export function statsOf(e: Entry): FlowStats {
  const m = decodeEntry(e);
  return {
    tableId: e.tableId,
    durationSec: 0,
    durationNsec: 0,
    priority: e.priority,
    idleTimeout: m.idleTimeout,
    hardTimeout: m.hardTimeout,
    flags: m.flags,
    cookie: e.cookie,
    packetCount: 0n,
    byteCount: 0n,
    match: m.match,
    instructions: m.instructions,
  };
}
