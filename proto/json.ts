import { ProtoError } from "./errors.ts";
import type { OfpMessage } from "./message.ts";

/**
 * The JSON form of messages, for people and for `icsdn ofp print|encode`. JSON has no 64-bit
 * integers and no bytes, so those two are tagged: `{"$u64": "0x..."}` and `{"$hex": "..."}`.
 * Tags (not schema knowledge) keep the mapping exact for every message type, so
 * encode(fromJson(toJson(m))) gives the same bytes.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function toJson(value: unknown): Json {
  if (typeof value === "bigint") return { $u64: `0x${value.toString(16)}` };
  if (value instanceof Uint8Array) return { $hex: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJson(v);
    return out;
  }
  if (
    typeof value === "number" ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    value === null
  ) {
    return value;
  }
  throw new ProtoError("BAD_VALUE", `cannot represent ${typeof value} in JSON`);
}

function fromTagged(tag: "$u64" | "$hex", v: unknown, path: string): bigint | Uint8Array {
  if (typeof v !== "string") throw new ProtoError("BAD_VALUE", `${path}.${tag}: expected a string`);
  if (tag === "$u64") {
    if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(v)) {
      throw new ProtoError("BAD_VALUE", `${path}.$u64: '${v}' is not a 64-bit hex (0x...) or decimal number`);
    }
    const n = BigInt(v);
    if (n > 0xffffffffffffffffn) throw new ProtoError("BAD_VALUE", `${path}.$u64: '${v}' is over 64 bits`);
    return n;
  }
  const clean = v.replace(/[\s:]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(clean))
    throw new ProtoError("BAD_VALUE", `${path}.$hex: not an even-length hex string`);
  return new Uint8Array(Buffer.from(clean, "hex"));
}

function revive(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => revive(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    const only = keys.length === 1 ? keys[0] : undefined;
    if (only === "$u64" || only === "$hex")
      return fromTagged(only, (value as Record<string, unknown>)[only], path);
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = revive((value as Record<string, unknown>)[k], `${path}.${k}`);
    return out;
  }
  return value;
}

/**
 * Turns parsed JSON back into a message object. Only the tags are checked here; the encoder
 * checks every field's presence and range and names the one that is wrong.
 */
export function messageFromJson(value: unknown, path = "message"): OfpMessage {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtoError("BAD_VALUE", `${path}: expected an object with a "type" field`);
  }
  if (typeof (value as { type?: unknown }).type !== "string") {
    throw new ProtoError("BAD_VALUE", `${path}.type: expected a message type name such as "FLOW_MOD"`);
  }
  return revive(value, path) as OfpMessage;
}
