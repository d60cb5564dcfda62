import { TAKEOVER, type VmInitConfig } from "./config.ts";
import type { KernelDesired, KernelObserved, OvsState } from "./model.ts";
import { BOND_BRIDGE, MANAGED_BRIDGES, OWNER_KEY, VINT } from "./names.ts";

/** The devices whose kernel state apply changes. */
export function touchedDevices(config: VmInitConfig): string[] {
  return [...config.underlay.nics, BOND_BRIDGE, VINT];
}

/** vm-init's own bridges (right name and our external_ids mark) and nothing else. */
export function ownBridges(state: OvsState): OvsState {
  return {
    bridges: state.bridges.filter(
      (b) => MANAGED_BRIDGES.includes(b.name) && b.externalIds[OWNER_KEY] !== undefined,
    ),
  };
}

/**
 * The kernel state to go back to after a failed apply: each touched device that existed as it
 * was (flags, addresses), and its default route. Devices apply created vanish with their bridge.
 */
export function kernelAsBefore(before: KernelObserved, devices: readonly string[]): KernelDesired {
  const present = devices.filter((d) => before.links.has(d));
  const route = before.defaultRoutes.find((r) => present.includes(r.dev));
  return {
    links: present.map((d) => {
      const l = before.links.get(d)!;
      return { name: d, up: l.up, noarp: l.noarp, addresses: l.addresses };
    }),
    routeDevs: present,
    ...(route === undefined ? {} : { defaultRoute: route }),
  };
}

/**
 * What teardown leaves on the NICs: ARP back on and, when the address was taken over, the
 * address and default route icbond0 has now back on the first NIC (icbond0 goes with its bridge).
 */
export function kernelAfterTeardown(config: VmInitConfig, observed: KernelObserved): KernelDesired {
  const [first, ...rest] = config.underlay.nics;
  const links: KernelDesired["links"] = rest
    .filter((n) => observed.links.has(n))
    .map((name) => ({ name, noarp: false }));
  if (first === undefined || !observed.links.has(first)) return { links, routeDevs: [] };
  if (config.underlay.address !== TAKEOVER)
    return { links: [{ name: first, noarp: false }, ...links], routeDevs: [] };
  const onBond = observed.links.get(BOND_BRIDGE)?.addresses ?? [];
  const route = observed.defaultRoutes.find((r) => r.dev === BOND_BRIDGE);
  const nic = observed.links.get(first)!;
  return {
    links: [
      {
        name: first,
        noarp: false,
        up: true,
        addresses: onBond.length > 0 ? onBond : nic.addresses,
      },
      ...links,
    ],
    // Only a route we carry back replaces what the NIC has; otherwise its routes stay as they are.
    routeDevs: route === undefined ? [] : [first],
    ...(route === undefined ? {} : { defaultRoute: { via: route.via, dev: first } }),
  };
}
