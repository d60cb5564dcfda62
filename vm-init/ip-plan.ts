import type { DefaultRoute, KernelDesired, KernelLink, KernelObserved } from "./model.ts";

/**
 * The fewest `ip -batch` lines that turn `observed` into `desired`. Order matters: unwanted
 * default routes go first (they still exist then), addresses leave the NICs before icbond0 gets
 * them, links come up before routes use them. A device whose every address is removed loses its
 * routes with them (the kernel flushes them), so such a route is neither deleted again, which
 * would fail the batch, nor counted as still there.
 */
export function planIp(desired: KernelDesired, observed: KernelObserved): string[] {
  const removals: string[] = [];
  const linkLines: string[] = [];
  const additions: string[] = [];
  const losesAll = new Set<string>();
  for (const want of desired.links) {
    const have: KernelLink = observed.links.get(want.name) ?? {
      name: want.name,
      up: false,
      noarp: false,
      mtu: 0,
      mac: "",
      addresses: [],
    };
    if (want.addresses !== undefined) {
      const gone = have.addresses.filter((a) => !want.addresses!.includes(a));
      for (const a of gone) removals.push(`addr del ${a} dev ${want.name}`);
      for (const a of want.addresses)
        if (!have.addresses.includes(a)) additions.push(`addr add ${a} dev ${want.name}`);
      if (have.addresses.length > 0 && gone.length === have.addresses.length) losesAll.add(want.name);
    }
    if (want.noarp !== undefined && want.noarp !== have.noarp) {
      linkLines.push(`link set ${want.name} arp ${want.noarp ? "off" : "on"}`);
    }
    if (want.up !== undefined && want.up !== have.up)
      linkLines.push(`link set ${want.name} ${want.up ? "up" : "down"}`);
  }

  const want = desired.defaultRoute;
  const surviving = observed.defaultRoutes.filter((r) => !losesAll.has(r.dev));
  const routeDels = surviving
    .filter((r) => desired.routeDevs.includes(r.dev) && !(want && sameRoute(r, want)))
    .map((r) => `route del default via ${r.via} dev ${r.dev}`);
  const routeAdd =
    want && !surviving.some((r) => sameRoute(r, want))
      ? [`route replace default via ${want.via} dev ${want.dev}`]
      : [];
  return [...routeDels, ...removals, ...linkLines, ...additions, ...routeAdd];
}

function sameRoute(a: DefaultRoute, b: DefaultRoute): boolean {
  return a.via === b.via && a.dev === b.dev;
}
