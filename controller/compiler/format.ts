import { type Action, OFPP, type OxmField } from "../../proto/index.ts";
import { ETH_TYPE_ARP, ETH_TYPE_IPV4 } from "./pipeline.ts";
import type { Rule } from "./rule.ts";

/** ovs-ofctl's names for the fields we use; others print as OXM names. */
const FIELD_NAMES: Record<string, string> = {
  IN_PORT: "in_port",
  IPV4_DST: "nw_dst",
  ARP_TPA: "arp_tpa",
  TUNNEL_ID: "tun_id",
  TUN_IPV4_SRC: "tun_src",
  TUN_IPV4_DST: "tun_dst",
  IP_PROTO: "nw_proto",
  UDP_SRC: "udp_src",
  UDP_DST: "udp_dst",
};

function value(v: unknown): string {
  return typeof v === "bigint" ? `0x${v.toString(16)}` : String(v);
}

function formatField(f: OxmField): string {
  if (f.field === "UNKNOWN") return `oxm(${f.oxmClass}:${f.oxmField})`;
  if (f.field === "ETH_TYPE" && f.mask === undefined) {
    if (f.value === ETH_TYPE_IPV4) return "ip";
    if (f.value === ETH_TYPE_ARP) return "arp";
    return `dl_type=0x${f.value.toString(16).padStart(4, "0")}`;
  }
  const name = FIELD_NAMES[f.field] ?? f.field.toLowerCase();
  return f.mask === undefined ? `${name}=${value(f.value)}` : `${name}=${value(f.value)}/${value(f.mask)}`;
}

function formatAction(a: Action): string {
  if (a.kind === "OUTPUT") {
    return a.port === OFPP.CONTROLLER ? `controller(max_len=${a.maxLen})` : `output:${a.port}`;
  }
  if (a.kind === "SET_FIELD") {
    const o = a.oxm;
    return o.field === "UNKNOWN"
      ? `set_field:oxm(${o.oxmClass}:${o.oxmField})`
      : `set_field:${value(o.value)}->${FIELD_NAMES[o.field] ?? o.field.toLowerCase()}`;
  }
  return a.kind.toLowerCase();
}

/**
 * One rule in `ovs-ofctl add-flow` syntax (OpenFlow 1.3), e.g.
 * `cookie=0x1c00002a01000000,table=0,priority=100,ip,in_port=2,nw_dst=198.18.0.2 actions=...`.
 * For logs, reports and checking our encoding against `ovs-ofctl parse-flow`.
 */
export function formatRule(rule: Rule): string {
  // ovs-ofctl wants the dl_type shorthand before fields that need it.
  const match = [...rule.match].sort((a, b) => rank(a) - rank(b)).map(formatField);
  const actions = rule.instructions.flatMap((ins) =>
    ins.kind === "APPLY_ACTIONS" ? ins.actions.map(formatAction) : [ins.kind.toLowerCase()],
  );
  const head = [
    `cookie=0x${rule.cookie.toString(16)}`,
    `table=${rule.tableId}`,
    `priority=${rule.priority}`,
    ...match,
  ];
  return `${head.join(",")} actions=${actions.length === 0 ? "drop" : actions.join(",")}`;
}

function rank(f: OxmField): number {
  return f.field === "ETH_TYPE" ? 0 : 1;
}
