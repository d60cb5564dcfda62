import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Bench, mergeResults } from "./figures.ts";

// `npm run bench [-- name ...]`: runs bench/*.bench.ts (or the named ones), prints every figure
// and merges them into bench/results.json.
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = (await readdir(here))
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

let failed = false;
for (const file of files) {
  const bench = ((await import(join(here, file))) as { default: Bench }).default;
  console.log(`\n== ${bench.title}`);
  try {
    const figures = await bench.run();
    for (const f of figures)
      console.log(`${f.name.padEnd(44)} ${formatValue(f.value).padStart(14)} ${f.unit}`);
    await mergeResults(join(here, "results.json"), figures);
  } catch (err) {
    failed = true;
    console.error(`${file} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
console.log(`\nfigures merged into ${join(here, "results.json")}`);
process.exitCode = failed ? 1 : 0;

function formatValue(v: number): string {
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toFixed(3);
}
