import { spawnSync } from "node:child_process";

/**
 * The system parts some tests drive, each with the commands that prove it is installed. A test
 * that needs one asks `requirePart`: outside CI a missing part skips the test; with CI=true it
 * fails the run naming the part, so CI can never go green by skipping.
 */
export const PARTS = {
  ovs: [
    ["ovs-vswitchd", "--version"],
    ["ovsdb-server", "--version"],
    ["ovs-vsctl", "--version"],
    ["ovs-ofctl", "--version"],
  ],
  prometheus: [["prometheus", "--version"]],
  promtool: [["promtool", "--version"]],
  openstack: [["openstack", "--version"]],
  // the mediation's format conversion: qemu-img reading through nbdkit's curl plugin
  "qemu-convert": [
    ["qemu-img", "--version"],
    ["nbdkit", "curl", "--dump-plugin"],
  ],
  // Debian's python3-os-ken, for Debian's python3 (not whatever python3 comes first on PATH)
  "os-ken": [["/usr/bin/python3", "-c", "import os_ken"]],
} as const satisfies Record<string, readonly (readonly string[])[]>;

export type Part = keyof typeof PARTS;

const known = new Map<Part, string | null>();

/** Why the part cannot run here (the first probe that failed), or null when it can. */
export function whyMissing(part: Part): string | null {
  if (!known.has(part)) {
    let why: string | null = null;
    for (const [cmd, ...args] of PARTS[part]) {
      const res = spawnSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
      if (res.error || res.status !== 0) {
        why = `\`${[cmd, ...args].join(" ")}\` ${res.error ? `failed (${res.error.message})` : `exited ${res.status}`}`;
        break;
      }
    }
    known.set(part, why);
  }
  return known.get(part) ?? null;
}

/** The run is CI's: the CI variable is set to anything but "" or "false" (as vitest reads it). */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && env.CI !== "" && env.CI !== "false";
}

/**
 * True when every part can run here. When one cannot: false outside CI (the caller skips), and
 * with CI=true an error naming the part, thrown where the test file is collected, so the run fails.
 *   describe.skipIf(!requirePart("ovs"))("with real Open vSwitch", () => { ... });
 */
export function requirePart(...parts: Part[]): boolean {
  for (const part of parts) {
    const why = whyMissing(part);
    if (why === null) continue;
    if (inCi()) throw new Error(`system part '${part}' is missing (${why}); CI must not skip its tests`);
    return false;
  }
  return true;
}
