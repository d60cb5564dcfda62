import { readdirSync, readFileSync, statSync } from "node:fs";
import type { LinkFacts } from "./model.ts";

const IFF_UP = 0x1;
const IFF_NOARP = 0x80;

/**
 * The network devices of the target's namespace as sysfs shows them (names, flags, MTU, MAC; not
 * addresses): what preflight needs to refuse a config and to plan OVS, read in well under a
 * millisecond without starting a process, so the OVS transaction need not wait for `ip`.
 *
 * sysfs shows the namespace of whoever mounted it, so it is used only when it can be shown to be
 * the target's: our own /sys when vm-init runs in the target namespace (a VM; `ip netns exec`
 * mounts a fresh sysfs), else ovs-vswitchd's view (/proc/<pid>/root/sys) once ovs-vswitchd is
 * known to live in the target namespace; and either way only if sysfs lists exactly the devices
 * /proc/<pid>/net/dev (always the right namespace) lists. Undefined otherwise: read with ip then.
 */
export function readLinkFacts(
  netns: string | undefined,
  vswitchdPid: number | undefined,
): Map<string, LinkFacts> | undefined {
  let sys = "/sys/class/net";
  let dev = "/proc/self/net/dev";
  if (netns !== undefined) {
    if (vswitchdPid === undefined || !sameFile(`/var/run/netns/${netns}`, `/proc/${vswitchdPid}/ns/net`)) {
      return undefined;
    }
    sys = `/proc/${vswitchdPid}/root/sys/class/net`;
    dev = `/proc/${vswitchdPid}/net/dev`;
  }
  try {
    // Devices are links to their sysfs directories; bonding_masters (bonding module) is a file.
    const names = readdirSync(sys, { withFileTypes: true })
      .filter((e) => !e.isFile())
      .map((e) => e.name)
      .sort();
    if (!sameList(names, procNetDevNames(readFileSync(dev, "utf8")).sort())) return undefined;
    const links = new Map<string, LinkFacts>();
    for (const name of names) {
      const read = (f: string) => readFileSync(`${sys}/${name}/${f}`, "utf8");
      const link = linkFromSysfs(name, read("flags"), read("mtu"), read("address"));
      if (!link) return undefined;
      links.set(name, link);
    }
    return links;
  } catch {
    // A device that vanished between the listing and the read, or no sysfs at all.
    return undefined;
  }
}

/** Device names from a /proc/net/dev text (two header lines, then `  name: counters...`). */
export function procNetDevNames(text: string): string[] {
  return text
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0]!.trim())
    .filter((n) => n !== "");
}

/** One device from its sysfs files: flags is hex (`0x1003`), mtu decimal, address a MAC. */
export function linkFromSysfs(
  name: string,
  flags: string,
  mtu: string,
  address: string,
): LinkFacts | undefined {
  const f = Number.parseInt(flags.trim(), 16);
  const m = Number.parseInt(mtu.trim(), 10);
  if (!Number.isInteger(f) || !Number.isInteger(m)) return undefined;
  return { name, up: (f & IFF_UP) !== 0, noarp: (f & IFF_NOARP) !== 0, mtu: m, mac: address.trim() };
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
