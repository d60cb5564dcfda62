import { type FlowMod, OFP_NO_BUFFER, OFPG, OFPP } from "../../proto/index.ts";
import type { Rule } from "./rule.ts";

const ALL_COOKIE_BITS = 0xffff_ffff_ffff_ffffn;

/** An OFPFC_ADD of the rule: installs it, or replaces the entry with the same table, priority and match. */
export function addFlowMod(rule: Rule, xid: number): FlowMod {
  return {
    type: "FLOW_MOD",
    xid,
    cookie: rule.cookie,
    cookieMask: 0n,
    tableId: rule.tableId,
    command: "ADD",
    idleTimeout: 0,
    hardTimeout: 0,
    priority: rule.priority,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: OFPG.ANY,
    flags: 0,
    match: rule.match,
    instructions: rule.instructions,
  };
}

/**
 * An OFPFC_DELETE_STRICT of exactly this entry: same table, priority and match, and (through an
 * all-ones cookie mask) the same cookie, so a rule someone replaced meanwhile is not deleted blind.
 */
export function deleteFlowMod(rule: Rule, xid: number): FlowMod {
  return {
    ...addFlowMod(rule, xid),
    command: "DELETE_STRICT",
    cookieMask: ALL_COOKIE_BITS,
    instructions: [],
  };
}

/** A batch's FLOW_MODs in the order to send them: adds first, so the switch never lacks a rule it needs. */
export function batchFlowMods(
  batch: { readonly add: readonly Rule[]; readonly delete: readonly Rule[] },
  nextXid: () => number,
): FlowMod[] {
  return [
    ...batch.add.map((r) => addFlowMod(r, nextXid())),
    ...batch.delete.map((r) => deleteFlowMod(r, nextXid())),
  ];
}
