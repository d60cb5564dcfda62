import { ProtoError } from "./errors.ts";
import { decodeSetFieldOxm, encodeSetFieldOxm, type SetFieldOxm } from "./match.ts";
import { checkElementLength } from "./wire/elements.ts";
import type { Reader } from "./wire/reader.ts";
import type { Writer } from "./wire/writer.ts";

/** ofp_action_type */
export const OFPAT = {
  OUTPUT: 0,
  COPY_TTL_OUT: 11,
  COPY_TTL_IN: 12,
  SET_MPLS_TTL: 15,
  DEC_MPLS_TTL: 16,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  PUSH_MPLS: 19,
  POP_MPLS: 20,
  SET_QUEUE: 21,
  GROUP: 22,
  SET_NW_TTL: 23,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  PUSH_PBB: 26,
  POP_PBB: 27,
  EXPERIMENTER: 0xffff,
} as const;

/** One ofp_action_*, discriminated by `kind` (the OFPAT_ name). */
export type Action =
  | {
      kind: "OUTPUT";
      port: number /** bytes to send to the controller; OFPCML_NO_BUFFER for all */;
      maxLen: number;
    }
  | { kind: "COPY_TTL_OUT" }
  | { kind: "COPY_TTL_IN" }
  | { kind: "SET_MPLS_TTL"; ttl: number }
  | { kind: "DEC_MPLS_TTL" }
  | { kind: "PUSH_VLAN"; ethertype: number }
  | { kind: "POP_VLAN" }
  | { kind: "PUSH_MPLS"; ethertype: number }
  | { kind: "POP_MPLS"; ethertype: number }
  | { kind: "SET_QUEUE"; queueId: number }
  | { kind: "GROUP"; groupId: number }
  | { kind: "SET_NW_TTL"; ttl: number }
  | { kind: "DEC_NW_TTL" }
  | { kind: "SET_FIELD"; oxm: SetFieldOxm }
  | { kind: "PUSH_PBB"; ethertype: number }
  | { kind: "POP_PBB" }
  /** `data` is everything after the experimenter id (subtype, body, padding): a multiple of 8 bytes. */
  | { kind: "EXPERIMENTER"; experimenter: number; data: Uint8Array };

export type ActionKind = Action["kind"];

/** Writes and reads the part of one action after its 4-byte type/length header. */
interface ActionCodec<A extends { kind: string }> {
  readonly code: number;
  /** The whole action's length when fixed; other lengths are BAD_LENGTH. */
  readonly size?: number;
  encode(w: Writer, a: A): void;
  /** `r` is bounded to this action's body. */
  decode(r: Reader): A;
}

type BareKind = "COPY_TTL_OUT" | "COPY_TTL_IN" | "DEC_MPLS_TTL" | "POP_VLAN" | "DEC_NW_TTL" | "POP_PBB";

function bare<K extends BareKind>(kind: K, code: number): ActionCodec<{ kind: K }> {
  return {
    code,
    size: 8,
    encode: (w) => void w.zeros(4),
    decode(r) {
      r.skip(4);
      return { kind };
    },
  };
}

function ethertype<K extends "PUSH_VLAN" | "PUSH_MPLS" | "POP_MPLS" | "PUSH_PBB">(
  kind: K,
  code: number,
): ActionCodec<{ kind: K; ethertype: number }> {
  return {
    code,
    size: 8,
    encode: (w, a) => void w.u16(a.ethertype, `${kind} ethertype`).zeros(2),
    decode(r) {
      const v = r.u16("ethertype");
      r.skip(2);
      return { kind, ethertype: v };
    },
  };
}

function ttl<K extends "SET_MPLS_TTL" | "SET_NW_TTL">(
  kind: K,
  code: number,
): ActionCodec<{ kind: K; ttl: number }> {
  return {
    code,
    size: 8,
    encode: (w, a) => void w.u8(a.ttl, `${kind} ttl`).zeros(3),
    decode(r) {
      const v = r.u8("ttl");
      r.skip(3);
      return { kind, ttl: v };
    },
  };
}

type ActionCodecTable = { [A in Action as A["kind"]]: ActionCodec<A> };

const codecs: ActionCodecTable = {
  OUTPUT: {
    code: OFPAT.OUTPUT,
    size: 16,
    encode: (w, a) => void w.u32(a.port, "OUTPUT port").u16(a.maxLen, "OUTPUT maxLen").zeros(6),
    decode(r) {
      const port = r.u32("output port");
      const maxLen = r.u16("output max_len");
      r.skip(6);
      return { kind: "OUTPUT", port, maxLen };
    },
  },
  COPY_TTL_OUT: bare("COPY_TTL_OUT", OFPAT.COPY_TTL_OUT),
  COPY_TTL_IN: bare("COPY_TTL_IN", OFPAT.COPY_TTL_IN),
  SET_MPLS_TTL: ttl("SET_MPLS_TTL", OFPAT.SET_MPLS_TTL),
  DEC_MPLS_TTL: bare("DEC_MPLS_TTL", OFPAT.DEC_MPLS_TTL),
  PUSH_VLAN: ethertype("PUSH_VLAN", OFPAT.PUSH_VLAN),
  POP_VLAN: bare("POP_VLAN", OFPAT.POP_VLAN),
  PUSH_MPLS: ethertype("PUSH_MPLS", OFPAT.PUSH_MPLS),
  POP_MPLS: ethertype("POP_MPLS", OFPAT.POP_MPLS),
  SET_QUEUE: {
    code: OFPAT.SET_QUEUE,
    size: 8,
    encode: (w, a) => void w.u32(a.queueId, "SET_QUEUE queueId"),
    decode: (r) => ({ kind: "SET_QUEUE", queueId: r.u32("queue_id") }),
  },
  GROUP: {
    code: OFPAT.GROUP,
    size: 8,
    encode: (w, a) => void w.u32(a.groupId, "GROUP groupId"),
    decode: (r) => ({ kind: "GROUP", groupId: r.u32("group_id") }),
  },
  SET_NW_TTL: ttl("SET_NW_TTL", OFPAT.SET_NW_TTL),
  DEC_NW_TTL: bare("DEC_NW_TTL", OFPAT.DEC_NW_TTL),
  SET_FIELD: {
    code: OFPAT.SET_FIELD,
    // The OXM, then padding to 8 bytes; the generic writer adds the padding.
    encode: (w, a) => encodeSetFieldOxm(w, a.oxm),
    decode(r) {
      const start = r.offset - 4;
      const oxm = decodeSetFieldOxm(r, r.offset + r.remaining);
      const pad = (8 - ((r.offset - start) % 8)) % 8;
      if (r.remaining !== pad) {
        throw new ProtoError(
          "BAD_LENGTH",
          `set_field: ${r.remaining} bytes after the OXM, expected ${pad}`,
          r.offset,
        );
      }
      r.skip(pad);
      return { kind: "SET_FIELD", oxm };
    },
  },
  PUSH_PBB: ethertype("PUSH_PBB", OFPAT.PUSH_PBB),
  POP_PBB: bare("POP_PBB", OFPAT.POP_PBB),
  EXPERIMENTER: {
    code: OFPAT.EXPERIMENTER,
    encode(w, a) {
      if (a.data.length % 8 !== 0) {
        throw new ProtoError(
          "BAD_LENGTH",
          `EXPERIMENTER action data of ${a.data.length} bytes is not a multiple of 8`,
          w.offset,
        );
      }
      w.u32(a.experimenter, "EXPERIMENTER experimenter").bytes(a.data);
    },
    decode: (r) => ({ kind: "EXPERIMENTER", experimenter: r.u32("experimenter"), data: r.rest() }),
  },
};

type AnyActionCodec = ActionCodec<Action>;
const byKind = codecs as unknown as Record<string, AnyActionCodec | undefined>;
const byCode = new Map<number, AnyActionCodec>();
for (const c of Object.values(codecs) as AnyActionCodec[]) byCode.set(c.code, c);

/** Writes one action, its length patched in and padded to 8 bytes. */
export function encodeAction(w: Writer, a: Action): void {
  const codec = byKind[a.kind];
  if (!codec) throw new ProtoError("BAD_TYPE", `unknown action kind '${String(a.kind)}'`, w.offset);
  const start = w.offset;
  w.u16(codec.code).u16(0);
  codec.encode(w, a);
  w.padTo(8, start);
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", `${a.kind} action of ${len} bytes`, start);
  w.patchU16(start + 2, len);
}

/** Writes an action list; returns its length in bytes. */
export function encodeActions(w: Writer, actions: readonly Action[]): number {
  const start = w.offset;
  for (let i = 0; i < actions.length; i++) encodeAction(w, actions[i]!);
  return w.offset - start;
}

/** Reads one action: its length must be at least 8, a multiple of 8, and within the reader. */
export function decodeAction(r: Reader): Action {
  const at = r.offset;
  const code = r.peekU16(0, "action type");
  const len = r.peekU16(2, "action length");
  checkElementLength(len, 8, 8, r.remaining, "action", at);
  const codec = byCode.get(code);
  if (!codec) throw new ProtoError("BAD_TYPE", `unknown action type ${code}`, at);
  if (codec.size !== undefined && len !== codec.size) {
    throw new ProtoError("BAD_LENGTH", `action type ${code} has length ${len}, expected ${codec.size}`, at);
  }
  r.skip(4);
  const body = r.sub(len - 4, "action");
  return codec.decode(body);
}

/** Reads actions until the reader's window ends. */
export function decodeActions(r: Reader): Action[] {
  const out: Action[] = [];
  while (!r.atEnd) out.push(decodeAction(r));
  return out;
}
