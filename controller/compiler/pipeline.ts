import { ENC0_PORT, VINT0_PORT } from "../../contract/dataplane/index.ts";
import { type Action, OFPP, type OxmFieldName } from "../../proto/index.ts";
import { ControllerError } from "../errors.ts";
import { decodeCookie, type RuleKind } from "./cookie.ts";
import { isFrozenRule, type Rule, ruleIdentity } from "./rule.ts";

export const ETH_TYPE_IPV4 = 0x0800;
export const ETH_TYPE_ARP = 0x0806;
export const IP_PROTO_UDP = 17;

/** Above the forwarding rules: a probe from a peer must reach the controller, not vint0. */
export const PRIORITY_PROBE = 110;
export const PRIORITY_FORWARD = 100;
export const PRIORITY_TABLE_MISS = 0;

/** Bytes of a probe the switch sends to the controller: headers plus our payload, never more. */
export const PROBE_MAX_LEN = 128;

/** What rules in one table may do. Everything not listed is a violation. */
export interface TableSpec {
  readonly id: number;
  readonly name: string;
  /** Fields a rule may match, exactly (no masks: every address we match is one host). */
  readonly matchFields: readonly OxmFieldName[];
  /** Our own prerequisites on top of OpenFlow's: tunnel metadata is only meaningful on packets from enc0. */
  readonly matchRequires: Partial<
    Record<OxmFieldName, { readonly field: OxmFieldName; readonly value: number }>
  >;
  /** Fields a rule may write with SET_FIELD (inside APPLY_ACTIONS). */
  readonly setFields: readonly OxmFieldName[];
  /** Ports a rule may output to, and what it must have set before (enc0 has remote_ip=flow, key=flow). */
  readonly outputPorts: Readonly<Record<number, readonly OxmFieldName[]>>;
  /** Ports only some rule kinds may output to (by cookie); other ports are open to every kind. */
  readonly outputKinds?: Readonly<Record<number, readonly RuleKind[]>>;
  /** Tables a rule may continue in with GOTO_TABLE. */
  readonly gotoTables: readonly number[];
}

/**
 * The pipeline, declared once. One table: every rule's match starts with a distinct in_port or
 * tunnel key, so a second table would only add dispatch rules and a GOTO per packet. Only probe
 * rules (UDP from a peer's tunnel to the probe port) may send packets to the controller.
 */
export const PIPELINE: readonly TableSpec[] = [
  {
    id: 0,
    name: "cluster",
    matchFields: [
      "IN_PORT",
      "ETH_TYPE",
      "IPV4_DST",
      "ARP_TPA",
      "TUNNEL_ID",
      "TUN_IPV4_SRC",
      "IP_PROTO",
      "UDP_SRC",
      "UDP_DST",
    ],
    matchRequires: {
      TUNNEL_ID: { field: "IN_PORT", value: ENC0_PORT },
      TUN_IPV4_SRC: { field: "IN_PORT", value: ENC0_PORT },
    },
    setFields: ["TUN_IPV4_DST", "TUNNEL_ID"],
    outputPorts: { [ENC0_PORT]: ["TUN_IPV4_DST", "TUNNEL_ID"], [VINT0_PORT]: [], [OFPP.CONTROLLER]: [] },
    outputKinds: { [OFPP.CONTROLLER]: ["probe"] },
    gotoTables: [],
  },
];

/** OXM prerequisites (OpenFlow 1.3.5, table 12) of the fields we may use; a switch refuses a match without them. */
const OXM_PREREQUISITES: Partial<
  Record<OxmFieldName, { readonly field: OxmFieldName; readonly value: number }>
> = {
  IPV4_SRC: { field: "ETH_TYPE", value: ETH_TYPE_IPV4 },
  IPV4_DST: { field: "ETH_TYPE", value: ETH_TYPE_IPV4 },
  ARP_SPA: { field: "ETH_TYPE", value: ETH_TYPE_ARP },
  ARP_TPA: { field: "ETH_TYPE", value: ETH_TYPE_ARP },
  // IPv4 only: the pipeline carries no IPv6 rule.
  IP_PROTO: { field: "ETH_TYPE", value: ETH_TYPE_IPV4 },
  UDP_SRC: { field: "IP_PROTO", value: IP_PROTO_UDP },
  UDP_DST: { field: "IP_PROTO", value: IP_PROTO_UDP },
};

/** Frozen rules that passed the per-rule checks against PIPELINE. */
const passed = new WeakSet<Rule>();

export interface PipelineViolation {
  /** Index of the rule in the checked list. */
  readonly rule: number;
  readonly message: string;
}

/**
 * Every way a rule set breaks the pipeline: unknown table, a field or action the table does not
 * allow, a missing prerequisite, an output to enc0 without a tunnel destination, a foreign cookie,
 * two rules with one identity, and anything but exactly one table-miss drop per table.
 */
export function checkRules(
  rules: readonly Rule[],
  pipeline: readonly TableSpec[] = PIPELINE,
): PipelineViolation[] {
  const violations: PipelineViolation[] = [];
  const seen = new Map<string, number>();
  const misses = new Map<number, number>();
  rules.forEach((rule, i) => {
    const report = (message: string) => {
      violations.push({ rule: i, message });
    };
    const table = pipeline.find((t) => t.id === rule.tableId);
    if (!table) {
      report(`table ${rule.tableId} is not in the pipeline`);
      return;
    }
    if (!Number.isInteger(rule.priority) || rule.priority < 0 || rule.priority > 0xffff) {
      report(`priority ${rule.priority} is not in 0..65535`);
    }
    if (!decodeCookie(rule.cookie)) report(`cookie 0x${rule.cookie.toString(16)} is not an icsdn cookie`);
    const identity = ruleIdentity(rule);
    const first = seen.get(identity);
    if (first !== undefined) report(`same table, priority and match as rule ${first}`);
    else seen.set(identity, i);
    if (isTableMiss(rule)) {
      misses.set(rule.tableId, (misses.get(rule.tableId) ?? 0) + 1);
      return;
    }
    // A frozen rule that passed once passes again: the compiler shares them among switches.
    if (pipeline === PIPELINE && passed.has(rule)) return;
    const before = violations.length;
    checkMatch(rule, table, report);
    checkInstructions(rule, table, report);
    checkOutputKinds(rule, table, report);
    if (pipeline === PIPELINE && violations.length === before && isFrozenRule(rule)) passed.add(rule);
  });
  for (const table of pipeline) {
    const n = misses.get(table.id) ?? 0;
    if (n !== 1)
      violations.push({ rule: -1, message: `table ${table.id} has ${n} table-miss rules, expected 1` });
  }
  return violations;
}

/** Throws (a compiler bug, never sent to a switch) unless the rules obey the pipeline. */
export function assertPipeline(rules: readonly Rule[], what: string): void {
  const violations = checkRules(rules);
  if (violations.length > 0) {
    throw new ControllerError(
      "PIPELINE_VIOLATION",
      `${what}: ${violations.map((v) => `rule ${v.rule}: ${v.message}`).join("; ")}`,
      { details: { violations } },
    );
  }
}

/** The explicit, countable drop: priority 0, empty match, no instructions. */
export function isTableMiss(rule: Rule): boolean {
  return rule.priority === 0 && rule.match.length === 0 && rule.instructions.length === 0;
}

function checkMatch(rule: Rule, table: TableSpec, report: (m: string) => void): void {
  const values = new Map<string, unknown>();
  for (const f of rule.match) {
    if (f.field === "UNKNOWN") {
      report(`match field ${f.oxmClass}:${f.oxmField} is not allowed in table ${table.id}`);
      continue;
    }
    if (!table.matchFields.includes(f.field))
      report(`match field ${f.field} is not allowed in table ${table.id}`);
    if (f.mask !== undefined) report(`match field ${f.field} is masked; table ${table.id} matches exactly`);
    if (values.has(f.field)) report(`match field ${f.field} appears twice`);
    values.set(f.field, f.value);
  }
  if (rule.match.length === 0) report("an empty match is only for the table-miss rule");
  for (const [name] of values) {
    for (const need of [OXM_PREREQUISITES[name as OxmFieldName], table.matchRequires[name as OxmFieldName]]) {
      if (need && values.get(need.field) !== need.value) {
        report(`match field ${name} requires ${need.field}=0x${need.value.toString(16)}`);
      }
    }
  }
}

function checkInstructions(rule: Rule, table: TableSpec, report: (m: string) => void): void {
  if (rule.instructions.length === 0) report("no instructions (a drop) is only for the table-miss rule");
  let applies = 0;
  for (const ins of rule.instructions) {
    if (ins.kind === "GOTO_TABLE") {
      if (!table.gotoTables.includes(ins.tableId))
        report(`GOTO_TABLE ${ins.tableId} is not allowed from table ${table.id}`);
    } else if (ins.kind === "APPLY_ACTIONS") {
      applies++;
      checkActions(ins.actions, table, decodeCookie(rule.cookie)?.kind, report);
    } else {
      report(`instruction ${ins.kind} is not allowed`);
    }
  }
  if (applies > 1) report("more than one APPLY_ACTIONS");
}

function checkOutputKinds(rule: Rule, table: TableSpec, report: (m: string) => void): void {
  const kind = decodeCookie(rule.cookie)?.kind;
  for (const ins of rule.instructions) {
    if (ins.kind !== "APPLY_ACTIONS") continue;
    for (const a of ins.actions) {
      if (a.kind !== "OUTPUT") continue;
      const kinds = table.outputKinds?.[a.port];
      if (kinds && (kind === undefined || !kinds.includes(kind))) {
        report(`OUTPUT to port ${a.port} is only for rules of kind ${kinds.join(", ")}`);
      }
    }
  }
}

/**
 * Actions end with an OUTPUT. Only an ARP egress rule (a member with an announced next endpoint)
 * outputs more than once: to enc0, re-setting tun_dst in between.
 */
function checkActions(
  actions: readonly Action[],
  table: TableSpec,
  kind: RuleKind | undefined,
  report: (m: string) => void,
): void {
  const set = new Set<string>();
  actions.forEach((a, i) => {
    if (a.kind === "SET_FIELD") {
      const name = a.oxm.field;
      if (name === "UNKNOWN" || !table.setFields.includes(name)) report(`SET_FIELD ${name} is not allowed`);
      set.add(name);
    } else if (a.kind === "OUTPUT") {
      const needs = table.outputPorts[a.port];
      if (!needs) {
        report(`OUTPUT to port ${a.port} is not allowed`);
        return;
      }
      if (i !== actions.length - 1 && (kind !== "egress-arp" || a.port !== ENC0_PORT))
        report("OUTPUT must be the last action (only ARP egress sends to more than one tunnel)");
      for (const n of needs)
        if (!set.has(n)) report(`OUTPUT to port ${a.port} needs SET_FIELD ${n} before it`);
    } else {
      report(`action ${a.kind} is not allowed`);
    }
  });
  if (!actions.some((a) => a.kind === "OUTPUT"))
    report("APPLY_ACTIONS without OUTPUT (use the table-miss rule to drop)");
  else if (actions.at(-1)?.kind !== "OUTPUT") report("OUTPUT must be the last action");
}
