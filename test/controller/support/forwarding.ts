import type { Rule } from "../../../controller/compiler/rule.ts";

// A packet classifier written from the OpenFlow spec, to ask "does this packet get through?"
// of compiled rule sets: the oracle for the connectivity properties.

export interface Packet {
  readonly inPort: number;
  readonly ethType: number;
  readonly ipv4Dst?: string;
  readonly arpTpa?: string;
  readonly tunnelId?: bigint;
  readonly tunSrc?: string;
}

const PACKET_FIELD: Record<string, keyof Packet> = {
  IN_PORT: "inPort",
  ETH_TYPE: "ethType",
  IPV4_DST: "ipv4Dst",
  ARP_TPA: "arpTpa",
  TUNNEL_ID: "tunnelId",
  TUN_IPV4_SRC: "tunSrc",
};

function matches(rule: Rule, p: Packet): boolean {
  return rule.match.every((f) => {
    if (f.field === "UNKNOWN" || f.mask !== undefined) return false;
    const name = PACKET_FIELD[f.field];
    return name !== undefined && p[name] === f.value;
  });
}

export interface Output {
  readonly output: number;
  readonly tunDst?: string;
  readonly tunId?: bigint;
}

/** The first output, and every copy the actions send (an ARP egress may send to two tunnels). */
export interface Forwarded extends Output {
  readonly outputs: readonly Output[];
}

/** The highest-priority match's actions; undefined when the packet is dropped. Overlaps at one priority throw. */
export function forward(rules: readonly Rule[], p: Packet): Forwarded | undefined {
  const hits = rules.filter((r) => matches(r, p));
  if (hits.length === 0) return undefined;
  const top = Math.max(...hits.map((r) => r.priority));
  const best = hits.filter((r) => r.priority === top);
  if (best.length > 1) throw new Error(`ambiguous: ${best.length} rules at priority ${top}`);
  let tunDst: string | undefined;
  let tunId: bigint | undefined;
  const outputs: Output[] = [];
  for (const ins of best[0]!.instructions) {
    if (ins.kind !== "APPLY_ACTIONS") continue;
    for (const a of ins.actions) {
      if (a.kind === "SET_FIELD" && a.oxm.field === "TUN_IPV4_DST") tunDst = a.oxm.value;
      if (a.kind === "SET_FIELD" && a.oxm.field === "TUNNEL_ID") tunId = a.oxm.value;
      if (a.kind === "OUTPUT") outputs.push({ output: a.port, tunDst, tunId });
    }
  }
  return outputs[0] && { ...outputs[0], outputs };
}

/** A running VM instance: its underlay endpoint and what its switch holds. */
export interface Instance {
  readonly name: string;
  readonly vmId: string;
  readonly vint0: string;
  readonly endpoint: string;
  rules: Rule[];
}

/**
 * Sends one packet from `from`'s vint0 to the cluster address `toVint0` (IPv4 or an ARP request)
 * through the tunnel; returns the instance whose vint0 receives it (the first, when an ARP goes
 * to two), or undefined if dropped.
 */
export function deliver(
  instances: readonly Instance[],
  from: Instance,
  toVint0: string,
  kind: "ip" | "arp" = "ip",
): Instance | undefined {
  return deliverAll(instances, from, toVint0, kind)[0];
}

/** Every instance whose vint0 receives the packet (two when an ARP goes to both of a member's endpoints). */
export function deliverAll(
  instances: readonly Instance[],
  from: Instance,
  toVint0: string,
  kind: "ip" | "arp" = "ip",
): Instance[] {
  const out = forward(
    from.rules,
    kind === "ip"
      ? { inPort: 2, ethType: 0x0800, ipv4Dst: toVint0 }
      : { inPort: 2, ethType: 0x0806, arpTpa: toVint0 },
  );
  const reached: Instance[] = [];
  for (const copy of out?.outputs ?? []) {
    if (copy.output !== 1 || copy.tunDst === undefined || copy.tunId === undefined) continue;
    const target = instances.find((i) => i.endpoint === copy.tunDst);
    if (!target) continue;
    const back = forward(target.rules, {
      inPort: 1,
      ethType: kind === "ip" ? 0x0800 : 0x0806,
      tunnelId: copy.tunId,
      tunSrc: from.endpoint,
    });
    if (back?.output !== 2) continue;
    if (target.vint0 !== toVint0)
      throw new Error(`${from.name} -> ${toVint0} was delivered to ${target.name}`);
    reached.push(target);
  }
  return reached;
}
