import type { DefaultRoute, KernelLink, KernelObserved } from "./model.ts";

/** The `ip -j -batch -` lines that read every device with its addresses, then the default routes. */
export const IP_READ_LINES: readonly string[] = ["addr show", "route show table main default"];

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
}
interface IpLink {
  ifname?: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  addr_info?: IpAddrInfo[];
}
interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
}

/** Parses the two JSON arrays `ip -j -batch -` prints for IP_READ_LINES, one per line. */
export function parseIpRead(stdout: string): KernelObserved {
  const docs = stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("["));
  if (docs.length !== 2) throw new Error(`expected 2 JSON documents from ip -batch, got ${docs.length}`);
  return kernelFrom(docs[0]!, docs[1]!);
}

/** The kernel state from the texts `addr show` and `route show ... default` printed with -j. */
export function kernelFrom(addrJson: string, routeJson: string): KernelObserved {
  const addrs = JSON.parse(addrJson) as unknown;
  const routes = JSON.parse(routeJson) as unknown;
  if (!Array.isArray(addrs) || !Array.isArray(routes))
    throw new Error("ip -j printed something other than arrays");
  const links = new Map<string, KernelLink>();
  for (const l of addrs as IpLink[]) {
    if (typeof l.ifname !== "string") continue;
    const flags = l.flags ?? [];
    links.set(l.ifname, {
      name: l.ifname,
      up: flags.includes("UP"),
      noarp: flags.includes("NOARP"),
      mtu: l.mtu ?? 0,
      mac: l.address ?? "",
      addresses: (l.addr_info ?? [])
        .filter((a) => a.family === "inet" && a.scope === "global" && a.local !== undefined)
        .map((a) => `${a.local}/${a.prefixlen ?? 32}`),
    });
  }
  const defaultRoutes: DefaultRoute[] = [];
  for (const r of routes as IpRoute[]) {
    if (r.dst === "default" && r.gateway !== undefined && r.dev !== undefined) {
      defaultRoutes.push({ via: r.gateway, dev: r.dev });
    }
  }
  return { links, defaultRoutes };
}
