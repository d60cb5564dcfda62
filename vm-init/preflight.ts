import { TAKEOVER, type VmInitConfig } from "./config.ts";
import type { MachineFacts, UnderlayFacts } from "./desired.ts";
import { VmInitError } from "./errors.ts";
import type { KernelObserved, LinkFacts, OvsObserved } from "./model.ts";
import { BOND_BRIDGE, CLUSTER_BRIDGE, ENC, MANAGED_BRIDGES, OWNER_KEY, VINT } from "./names.ts";

/**
 * Checks, before anything is changed, that the machine can take the config, and resolves what
 * the config leaves to the machine (takeover address and gateway, MTU, the first NIC's MAC).
 * Everything refused here is refused with nothing touched.
 */
export function preflight(config: VmInitConfig, ovs: OvsObserved, kernel: KernelObserved): UnderlayFacts {
  return underlayFacts(config, kernel, checkMachine(config, ovs, kernel.links));
}

/**
 * Every check that needs only the devices' names, MTUs, MACs (sysfs has them) and OVSDB: all
 * of preflight but the takeover address. Resolves the MTU and the first NIC's MAC.
 */
export function checkMachine(
  config: VmInitConfig,
  ovs: OvsObserved,
  links: ReadonlyMap<string, LinkFacts>,
): MachineFacts {
  checkBridges(ovs);
  checkOwnDevices(ovs, links);
  const nics = config.underlay.nics;
  nics.forEach((nic, i) => {
    const field = `underlay.nics[${i}]`;
    if (!links.has(nic)) {
      throw new VmInitError("NIC_MISSING", `${field}: network interface "${nic}" does not exist`, { field });
    }
    const port = ovs.interfacePort.get(nic);
    const bridge = port === undefined ? undefined : ovs.portBridge.get(port);
    if (bridge !== undefined && bridge !== BOND_BRIDGE) {
      throw new VmInitError("NIC_IN_USE", `${field}: "${nic}" is already a port of OVS bridge "${bridge}"`, {
        field,
      });
    }
  });

  const first = links.get(nics[0]!)!;
  const nicMtus = nics.map((n) => links.get(n)!.mtu);
  const mtu = config.underlay.mtu ?? Math.min(...nicMtus);
  nics.forEach((nic, i) => {
    if (nicMtus[i]! < mtu) {
      throw new VmInitError(
        "NIC_MTU_TOO_SMALL",
        `underlay.mtu: ${mtu} is larger than the MTU ${nicMtus[i]} of NIC "${nic}"`,
        { field: "underlay.mtu" },
      );
    }
  });

  return { mtu, firstNicMac: first.mac };
}

/** The underlay address and gateway: from the config, or taken over from the first NIC (or icbond0). */
export function underlayFacts(
  config: VmInitConfig,
  kernel: KernelObserved,
  machine: MachineFacts,
): UnderlayFacts {
  const nics = config.underlay.nics;
  const facts: UnderlayFacts = { address: "", ...machine };
  if (config.underlay.address === TAKEOVER) {
    facts.address = takeoverAddress(nics[0]!, kernel);
    const gateway =
      config.underlay.gateway ??
      kernel.defaultRoutes.find((r) => r.dev === nics[0])?.via ??
      kernel.defaultRoutes.find((r) => r.dev === BOND_BRIDGE)?.via;
    if (gateway !== undefined) facts.gateway = gateway;
  } else {
    facts.address = config.underlay.address;
    if (config.underlay.gateway !== undefined) facts.gateway = config.underlay.gateway;
  }
  return facts;
}

/** icbr0 and icbond0 may exist only as vm-init made them; someone else's bridge is not ours to change. */
function checkBridges(ovs: OvsObserved): void {
  for (const b of ovs.state.bridges) {
    if (MANAGED_BRIDGES.includes(b.name) && b.externalIds[OWNER_KEY] === undefined) {
      throw new VmInitError(
        "BRIDGE_CONFLICT",
        `OVS bridge "${b.name}" exists but was not created by vm-init (no external_ids:${OWNER_KEY}); remove it first`,
      );
    }
  }
}

/** vint0, enc0 and the bridges' devices must not already exist as something else. */
function checkOwnDevices(ovs: OvsObserved, links: ReadonlyMap<string, LinkFacts>): void {
  const expected: Record<string, string> = {
    [VINT]: CLUSTER_BRIDGE,
    [ENC]: CLUSTER_BRIDGE,
    [CLUSTER_BRIDGE]: CLUSTER_BRIDGE,
    [BOND_BRIDGE]: BOND_BRIDGE,
  };
  for (const [name, bridge] of Object.entries(expected)) {
    const port = ovs.interfacePort.get(name);
    const owner = port === undefined ? undefined : ovs.portBridge.get(port);
    if (owner !== undefined && owner !== bridge) {
      throw new VmInitError("BRIDGE_CONFLICT", `"${name}" is already a port of OVS bridge "${owner}"`);
    }
    if (owner === undefined && name !== ENC && links.has(name)) {
      throw new VmInitError(
        "BRIDGE_CONFLICT",
        `network device "${name}" exists and is not an Open vSwitch port; vm-init needs that name`,
      );
    }
  }
}

/** The one IPv4 address of the first NIC, or of icbond0 when an earlier apply already moved it. */
function takeoverAddress(nic: string, kernel: KernelObserved): string {
  const field = "underlay.address";
  const onNic = kernel.links.get(nic)?.addresses ?? [];
  if (onNic.length > 1) {
    throw new VmInitError(
      "AMBIGUOUS_UNDERLAY_ADDRESS",
      `${field}: takeover, but "${nic}" has ${onNic.length} IPv4 addresses (${onNic.join(", ")}); give the address explicitly`,
      { field },
    );
  }
  if (onNic[0] !== undefined) return onNic[0];
  const onBond = kernel.links.get(BOND_BRIDGE)?.addresses ?? [];
  if (onBond.length === 1) return onBond[0]!;
  throw new VmInitError(
    "NO_UNDERLAY_ADDRESS",
    `${field}: takeover, but "${nic}" has no IPv4 address to take (is DHCP done?)`,
    { field },
  );
}
