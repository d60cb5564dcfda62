import { spawnSync } from "node:child_process";
import { expect } from "vitest";

/**
 * Open vSwitch's own decoder as the oracle: `ovs-ofctl ofp-print <hex>`. It prints `***...***`
 * for anything it cannot decode (bad type, trailing bytes, a bad match) and warns on stderr.
 */
export function ofpPrint(bytes: Uint8Array): { stdout: string; stderr: string } {
  const res = spawnSync("ovs-ofctl", ["ofp-print", Buffer.from(bytes).toString("hex")], { encoding: "utf8" });
  if (res.error) throw res.error;
  return { stdout: res.stdout, stderr: res.stderr };
}

/** Asserts OVS decodes `bytes` cleanly and that its text contains every `expected` piece. */
export function expectOvsDecodes(bytes: Uint8Array, ...expected: (string | RegExp)[]): string {
  const { stdout, stderr } = ofpPrint(bytes);
  const context = `ovs-ofctl ofp-print said:\n${stdout}${stderr}`;
  expect(stdout, context).not.toContain("***");
  expect(stderr, context).not.toMatch(/WARN|ERR/);
  for (const e of expected) {
    if (typeof e === "string") expect(stdout, context).toContain(e);
    else expect(stdout, context).toMatch(e);
  }
  return stdout;
}
