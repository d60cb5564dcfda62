/**
 * `icsdn` ends with the registry's exit code for every error of ours and prints
 * `icsdn: CODE: message`; real failures of each component, through bin/icsdn.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_REGISTRY, type ErrorCode } from "../../contract/errors/index.ts";

const icsdn = join(import.meta.dirname, "../../bin/icsdn");
const empty = mkdtempSync(join(tmpdir(), "icsdn-cli-exit-"));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(icsdn, args, { encoding: "utf8", env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe("icsdn exit codes", () => {
  it.each<[string, string[], ErrorCode, number, RegExp, Record<string, string>?]>([
    ["an unknown command", ["nonsense"], "USAGE", 2, /unknown command 'nonsense'/],
    ["an unknown option", ["vm-init", "apply", "--bogus"], "USAGE", 2, /Unknown option '--bogus'/],
    ["bytes that are no hex", ["ofp", "print", "zz"], "BAD_INPUT", 65, /not an even-length hex string/],
    ["a truncated OpenFlow message", ["ofp", "print", "0400001000000007"], "TRUNCATED", 65, /at byte/],
    [
      "a missing vm-init config",
      ["vm-init", "validate", "--config", join(empty, "none.json")],
      "CONFIG_UNREADABLE",
      78,
      /none\.json/,
    ],
    [
      "a PKI directory without a CA",
      ["controller", "pki", "issue", "--dir", empty, "--cluster", "db", "--name", "vm1"],
      "PKI_MISSING",
      78,
      /has no CA/,
    ],
    [
      "a lab that is not up",
      ["lab", "status", "--name", "nl"],
      "NO_LAB",
      3,
      /is the lab up/,
      { ICSDN_LAB_ROOT: empty },
    ],
  ])("%s: %j exits with its code's exit", (_what, args, code, exit, message, env) => {
    const res = run(args, env);
    expect(ERROR_REGISTRY[code].exit).toBe(exit);
    expect(res.code, res.stderr).toBe(exit);
    expect(res.stderr).toMatch(new RegExp(`^icsdn: ${code}: `));
    expect(res.stderr).toMatch(message);
    expect(res.stderr).not.toMatch(/\n\s+at /); // one line of reason, no stack
    expect(res.stdout).toBe("");
  });
});
