/** contract/ is the bottom layer: it imports only itself, Node and npm packages, never a component. */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const CONTRACT = join(ROOT, "contract");

describe("contract/", () => {
  it("imports nothing of ours but itself", () => {
    const files = readdirSync(CONTRACT, { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".ts"),
    );
    expect(files.length).toBeGreaterThan(10);
    const specifier = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;
    for (const file of files) {
      const path = join(CONTRACT, file);
      for (const m of readFileSync(path, "utf8").matchAll(specifier)) {
        const spec = m[1] ?? m[2]!;
        if (!spec.startsWith(".")) continue; // node: or an npm package
        const target = relative(CONTRACT, resolve(dirname(path), spec));
        expect(target.startsWith(".."), `contract/${file} imports ${spec}`).toBe(false);
      }
    }
  });
});
