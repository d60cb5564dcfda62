import {
  EXPERIMENTER_ID,
  encodeMessage,
  OFP_VERSION,
  OFPBF,
  OFPT,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
} from "../../proto/index.ts";
import { addFlowMod, deleteFlowMod } from "../compiler/flow-mod.ts";
import { isFrozenRule, type Rule } from "../compiler/rule.ts";

/** A batch's bundle flags: applied all-or-nothing, in the order sent (adds before deletes). */
export const BATCH_BUNDLE_FLAGS = OFPBF.ATOMIC | OFPBF.ORDERED;

/** ofp_header + experimenter + exp_type + bundle_id + pad + flags: what precedes the bundled message. */
const BUNDLE_ADD_PREFIX = 24;

/**
 * One batch on the wire: ADD_MESSAGE per FLOW_MOD, COMMIT, BARRIER, in one buffer. No OPEN: the
 * first ADD_MESSAGE of an unknown bundle id opens it with the ADD's flags (OpenFlow 1.4, 7.3.9;
 * OVS does, and our emulator). That is one message and one reply less per switch: OVS 3.1 here
 * answers a 2-rule batch in 0.58 ms instead of 0.75 (median of 200, scratch A/B, one switch).
 */
export interface BatchFrames {
  readonly bytes: Uint8Array;
  /** Every xid the batch uses (each FLOW_MOD, commit, barrier): errors with them are the batch's. */
  readonly xids: readonly number[];
  readonly commitXid: number;
  readonly barrierXid: number;
  readonly flowMods: number;
}

const addBytes = new WeakMap<Rule, Uint8Array>();
const deleteBytes = new WeakMap<Rule, Uint8Array>();

/**
 * A rule's FLOW_MOD with xid 0, encoded once per frozen rule: a 1,000-member cluster sends the same
 * rule to 999 switches, and a bundle copies it in and patches the xid.
 */
function flowModBytes(rule: Rule, command: "add" | "delete"): Uint8Array {
  const cache = command === "add" ? addBytes : deleteBytes;
  const cached = cache.get(rule);
  if (cached) return cached;
  const bytes = encodeMessage(command === "add" ? addFlowMod(rule, 0) : deleteFlowMod(rule, 0));
  if (isFrozenRule(rule)) cache.set(rule, bytes);
  return bytes;
}

/** Writes ONFT_BUNDLE_ADD_MESSAGE around `inner` at `at`; its xid and the inner one are both `xid`. */
export function writeBundleAdd(
  out: Uint8Array,
  at: number,
  inner: Uint8Array,
  xid: number,
  bundleId: number,
  flags: number,
): number {
  const length = BUNDLE_ADD_PREFIX + inner.length;
  const v = new DataView(out.buffer, out.byteOffset + at, length);
  v.setUint8(0, OFP_VERSION);
  v.setUint8(1, OFPT.EXPERIMENTER);
  v.setUint16(2, length);
  v.setUint32(4, xid);
  v.setUint32(8, EXPERIMENTER_ID.ONF);
  v.setUint32(12, ONFT_BUNDLE_ADD_MESSAGE);
  v.setUint32(16, bundleId);
  v.setUint16(20, 0);
  v.setUint16(22, flags);
  out.set(inner, at + BUNDLE_ADD_PREFIX);
  // The switch refuses a bundled message whose xid differs from the ADD's (OFPBFC_MSG_BAD_XID).
  v.setUint32(BUNDLE_ADD_PREFIX + 4, xid);
  return at + length;
}

/** ONFT_BUNDLE_CONTROL with no properties: 24 bytes, fields at fixed offsets. */
const BUNDLE_CONTROL_LEN = 24;
const BARRIER_LEN = 8;
const CTRL_COMMIT_REQUEST = 4;

function writeBundleControl(
  out: Uint8Array,
  at: number,
  xid: number,
  bundleId: number,
  ctrlType: number,
): number {
  const v = new DataView(out.buffer, out.byteOffset + at, BUNDLE_CONTROL_LEN);
  v.setUint8(0, OFP_VERSION);
  v.setUint8(1, OFPT.EXPERIMENTER);
  v.setUint16(2, BUNDLE_CONTROL_LEN);
  v.setUint32(4, xid);
  v.setUint32(8, EXPERIMENTER_ID.ONF);
  v.setUint32(12, ONFT_BUNDLE_CONTROL);
  v.setUint32(16, bundleId);
  v.setUint16(20, ctrlType);
  v.setUint16(22, BATCH_BUNDLE_FLAGS);
  return at + BUNDLE_CONTROL_LEN;
}

function writeBarrier(out: Uint8Array, at: number, xid: number): number {
  const v = new DataView(out.buffer, out.byteOffset + at, BARRIER_LEN);
  v.setUint8(0, OFP_VERSION);
  v.setUint8(1, OFPT.BARRIER_REQUEST);
  v.setUint16(2, BARRIER_LEN);
  v.setUint32(4, xid);
  return at + BARRIER_LEN;
}

/**
 * The bytes of one batch (adds first, then strict deletes, as compiler/flow-mod.ts orders them),
 * with consecutive xids from `nextXid`, written into one buffer (the same bytes proto encodes,
 * checked in the tests). Nothing waits between messages: the barrier after the commit is what
 * tells the batch is done.
 */
export function batchFrames(
  batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] },
  bundleId: number,
  nextXid: () => number,
): BatchFrames {
  // The first ADD_MESSAGE opens the bundle: a COMMIT alone would name a bundle that does not exist.
  if (batch.add.length + batch.delete.length === 0)
    throw new RangeError("batchFrames: a batch needs a FLOW_MOD");
  const mods: Uint8Array[] = [];
  let size = BUNDLE_CONTROL_LEN + BARRIER_LEN;
  for (const r of batch.add) mods.push(flowModBytes(r, "add"));
  for (const r of batch.delete) mods.push(flowModBytes(r, "delete"));
  for (const m of mods) size += BUNDLE_ADD_PREFIX + m.length;
  const bytes = new Uint8Array(size);
  const xids: number[] = [];
  let at = 0;
  for (const m of mods) {
    const xid = nextXid();
    xids.push(xid);
    at = writeBundleAdd(bytes, at, m, xid, bundleId, BATCH_BUNDLE_FLAGS);
  }
  const commitXid = nextXid();
  const barrierXid = nextXid();
  xids.push(commitXid, barrierXid);
  at = writeBundleControl(bytes, at, commitXid, bundleId, CTRL_COMMIT_REQUEST);
  writeBarrier(bytes, at, barrierXid);
  return { bytes, xids, commitXid, barrierXid, flowMods: mods.length };
}
