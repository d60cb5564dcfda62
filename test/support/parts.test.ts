import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inCi, PARTS } from "./parts.ts";

// requirePart in a child process whose PATH holds none of the parts, as on a machine without them.
function requireWithoutParts(part: string, ci: string | undefined) {
  const parts = join(import.meta.dirname, "parts.ts");
  const script = `import { requirePart } from ${JSON.stringify(parts)}; console.log(requirePart(${JSON.stringify(part)}));`;
  const env: NodeJS.ProcessEnv = { PATH: "/nonexistent" };
  if (ci !== undefined) env.CI = ci;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env });
  return { status: res.status, stdout: res.stdout.trim(), stderr: res.stderr };
}

// Parts probed by an absolute path (os-ken, under Debian's python3) cannot be hidden this way.
const onPath = Object.entries(PARTS)
  .filter(([, probes]) => probes.every(([cmd]) => !cmd.startsWith("/")))
  .map(([part]) => part);

describe("requirePart: skip outside CI, fail in CI", () => {
  it("covers the parts found on PATH", () =>
    expect(onPath).toEqual(expect.arrayContaining(["ovs", "promtool"])));

  for (const part of onPath)
    it(`a missing ${part} skips outside CI and fails the run with CI=true, naming it`, () => {
      expect(requireWithoutParts(part, undefined)).toMatchObject({ status: 0, stdout: "false" });
      expect(requireWithoutParts(part, "false")).toMatchObject({ status: 0, stdout: "false" });
      const ci = requireWithoutParts(part, "true");
      expect(ci.status).not.toBe(0);
      expect(ci.stderr).toContain(`system part '${part}' is missing`);
      expect(ci.stderr).toContain(PARTS[part as keyof typeof PARTS][0]![0]);
    });

  it("reads CI as vitest does: set and neither empty nor 'false'", () => {
    expect(inCi({ CI: "true" })).toBe(true);
    expect(inCi({ CI: "1" })).toBe(true);
    expect(inCi({ CI: "false" })).toBe(false);
    expect(inCi({ CI: "" })).toBe(false);
    expect(inCi({})).toBe(false);
  });
});
