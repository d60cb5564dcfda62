import { type Action, decodeActions, encodeActions } from "./actions.ts";
import { ProtoError } from "./errors.ts";
import { checkElementLength } from "./wire/elements.ts";
import type { Reader } from "./wire/reader.ts";
import type { Writer } from "./wire/writer.ts";

/** ofp_instruction_type */
export const OFPIT = {
  GOTO_TABLE: 1,
  WRITE_METADATA: 2,
  WRITE_ACTIONS: 3,
  APPLY_ACTIONS: 4,
  CLEAR_ACTIONS: 5,
  METER: 6,
  EXPERIMENTER: 0xffff,
} as const;

/** One ofp_instruction_*, discriminated by `kind` (the OFPIT_ name). */
export type Instruction =
  | { kind: "GOTO_TABLE"; tableId: number }
  | { kind: "WRITE_METADATA"; metadata: bigint; mask: bigint }
  | { kind: "WRITE_ACTIONS"; actions: Action[] }
  | { kind: "APPLY_ACTIONS"; actions: Action[] }
  | { kind: "CLEAR_ACTIONS" }
  | { kind: "METER"; meterId: number }
  /** `data` is everything after the experimenter id: a multiple of 8 bytes. */
  | { kind: "EXPERIMENTER"; experimenter: number; data: Uint8Array };

export type InstructionKind = Instruction["kind"];

/** Writes and reads the part of one instruction after its 4-byte type/length header. */
interface InstructionCodec<I extends { kind: string }> {
  readonly code: number;
  /** The whole instruction's length when fixed; other lengths are BAD_LENGTH. */
  readonly size?: number;
  encode(w: Writer, i: I): void;
  /** `r` is bounded to this instruction's body. */
  decode(r: Reader): I;
}

function actionList<K extends "WRITE_ACTIONS" | "APPLY_ACTIONS">(
  kind: K,
  code: number,
): InstructionCodec<{ kind: K; actions: Action[] }> {
  return {
    code,
    encode(w, i) {
      w.zeros(4);
      encodeActions(w, i.actions);
    },
    decode(r) {
      r.skip(4);
      return { kind, actions: decodeActions(r) };
    },
  };
}

type InstructionCodecTable = { [I in Instruction as I["kind"]]: InstructionCodec<I> };

const codecs: InstructionCodecTable = {
  GOTO_TABLE: {
    code: OFPIT.GOTO_TABLE,
    size: 8,
    encode: (w, i) => void w.u8(i.tableId, "GOTO_TABLE tableId").zeros(3),
    decode(r) {
      const tableId = r.u8("table_id");
      r.skip(3);
      return { kind: "GOTO_TABLE", tableId };
    },
  },
  WRITE_METADATA: {
    code: OFPIT.WRITE_METADATA,
    size: 24,
    encode: (w, i) =>
      void w.zeros(4).u64(i.metadata, "WRITE_METADATA metadata").u64(i.mask, "WRITE_METADATA mask"),
    decode(r) {
      r.skip(4);
      const metadata = r.u64("metadata");
      const mask = r.u64("metadata_mask");
      return { kind: "WRITE_METADATA", metadata, mask };
    },
  },
  WRITE_ACTIONS: actionList("WRITE_ACTIONS", OFPIT.WRITE_ACTIONS),
  APPLY_ACTIONS: actionList("APPLY_ACTIONS", OFPIT.APPLY_ACTIONS),
  CLEAR_ACTIONS: {
    code: OFPIT.CLEAR_ACTIONS,
    size: 8,
    encode: (w) => void w.zeros(4),
    decode(r) {
      r.skip(4);
      return { kind: "CLEAR_ACTIONS" };
    },
  },
  METER: {
    code: OFPIT.METER,
    size: 8,
    encode: (w, i) => void w.u32(i.meterId, "METER meterId"),
    decode: (r) => ({ kind: "METER", meterId: r.u32("meter_id") }),
  },
  EXPERIMENTER: {
    code: OFPIT.EXPERIMENTER,
    encode(w, i) {
      if (i.data.length % 8 !== 0) {
        throw new ProtoError(
          "BAD_LENGTH",
          `EXPERIMENTER instruction data of ${i.data.length} bytes is not a multiple of 8`,
          w.offset,
        );
      }
      w.u32(i.experimenter, "EXPERIMENTER experimenter").bytes(i.data);
    },
    decode: (r) => ({ kind: "EXPERIMENTER", experimenter: r.u32("experimenter"), data: r.rest() }),
  },
};

type AnyInstructionCodec = InstructionCodec<Instruction>;
const byKind = codecs as unknown as Record<string, AnyInstructionCodec | undefined>;
const byCode = new Map<number, AnyInstructionCodec>();
for (const c of Object.values(codecs) as AnyInstructionCodec[]) byCode.set(c.code, c);

/** Writes one instruction with its length patched in. */
export function encodeInstruction(w: Writer, ins: Instruction): void {
  const codec = byKind[ins.kind];
  if (!codec) throw new ProtoError("BAD_TYPE", `unknown instruction kind '${String(ins.kind)}'`, w.offset);
  const start = w.offset;
  w.u16(codec.code).u16(0);
  codec.encode(w, ins);
  const len = w.offset - start;
  if (len > 0xffff) throw new ProtoError("TOO_LONG", `${ins.kind} instruction of ${len} bytes`, start);
  w.patchU16(start + 2, len);
}

export function encodeInstructions(w: Writer, list: readonly Instruction[]): void {
  for (let i = 0; i < list.length; i++) encodeInstruction(w, list[i]!);
}

/** Reads one instruction: its length must be at least 8, a multiple of 8, and within the reader. */
export function decodeInstruction(r: Reader): Instruction {
  const at = r.offset;
  const code = r.peekU16(0, "instruction type");
  const len = r.peekU16(2, "instruction length");
  checkElementLength(len, 8, 8, r.remaining, "instruction", at);
  const codec = byCode.get(code);
  if (!codec) throw new ProtoError("BAD_TYPE", `unknown instruction type ${code}`, at);
  if (codec.size !== undefined && len !== codec.size) {
    throw new ProtoError(
      "BAD_LENGTH",
      `instruction type ${code} has length ${len}, expected ${codec.size}`,
      at,
    );
  }
  r.skip(4);
  return codec.decode(r.sub(len - 4, "instruction"));
}

/** Reads instructions until the reader's window ends. */
export function decodeInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (!r.atEnd) out.push(decodeInstruction(r));
  return out;
}
