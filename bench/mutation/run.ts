import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { mergeResults } from "../figures.ts";
import { CORE_FOLDERS, type CoreFolder } from "./folders.ts";

// `npm run mutation [-- [--force] [--typecheck] [--static] <folder> ...]`: Stryker on each pure
// core (bench/mutation/folders.ts), one folder per run, incremental (only mutants in changed code
// or hit by changed tests run again; `--force` runs all; `--typecheck` adds the TypeScript
// checker). Writes reports/mutation/<folder>/index.html, prints the score per folder and merges
// `mutation.score.<folder>` into bench/results.json. Niced, 2 workers (MUTATION_CONCURRENCY):
// the machine is shared. Not part of the test run. Coverage is per test: code a test file runs
// while being collected (in a describe body) counts for no test, so parse fixtures in the tests.
const root = resolve(import.meta.dirname, "../..");
const args = process.argv.slice(2);
const force = args.includes("--force");
const typecheck = args.includes("--typecheck");
const withStatic = args.includes("--static");
const wanted = args.filter((a) => !a.startsWith("--")).map((a) => a.replace(/\/+$/, ""));
const unknown = wanted.filter((w) => !(w in CORE_FOLDERS));
if (unknown.length > 0) {
  console.error(
    `unknown core folder(s): ${unknown.join(", ")}; known: ${Object.keys(CORE_FOLDERS).join(", ")}`,
  );
  process.exit(2);
}
const folders = wanted.length > 0 ? wanted : Object.keys(CORE_FOLDERS);
const concurrency = Number(process.env.MUTATION_CONCURRENCY ?? 2);

interface ReportMutant {
  status: string;
}
interface Report {
  files: Record<string, { mutants: ReportMutant[] }>;
}

/** Stryker's mutation score: detected (killed, timed out) over valid mutants (not compile errors). */
function mutationScore(report: Report): { score: number; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  for (const file of Object.values(report.files))
    for (const m of file.mutants) counts[m.status] = (counts[m.status] ?? 0) + 1;
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  return { score: valid === 0 ? Number.NaN : (100 * detected) / valid, counts };
}

function strykerConfig(core: CoreFolder, dir: string): object {
  return {
    packageManager: "npm",
    testRunner: "vitest",
    vitest: { configFile: "bench/mutation/vitest.config.ts", related: true },
    // tsgo checks the whole project once per mutant: about 3 s of CPU each here, more than the
    // tests take, so type checking is opt-in; without it a type-invalid mutant runs (vitest strips
    // types) and counts as killed or survived, never as a compile error.
    checkers: typecheck ? ["typescript"] : [],
    tsconfigFile: "tsconfig.json",
    typescriptChecker: { experimentalNativePreview: true },
    coverageAnalysis: "perTest",
    // A static mutant (a module-level constant: a name table, a schema) needs every test file
    // reloaded, about 40 s each here; they are a third of the mutants and 94 % of the time, so
    // they are left out (reported as ignored) unless `--static`.
    ignoreStatic: !withStatic,
    mutate: core.mutate,
    ignorePatterns: [".tools", "reports", "bench/results.json"],
    disableTypeChecks: false,
    concurrency,
    incremental: true,
    incrementalFile: join(dir, "incremental.json"),
    force,
    reporters: ["html", "json", "clear-text", "progress"],
    htmlReporter: { fileName: join(dir, "index.html") },
    jsonReporter: { fileName: join(dir, "report.json") },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    tempDirName: ".stryker-tmp",
    cleanTempDir: true,
    thresholds: { high: 90, low: 85, break: null },
  };
}

const scores: { folder: string; score: number; counts: Record<string, number> }[] = [];
let failed = false;
for (const folder of folders) {
  const core = CORE_FOLDERS[folder] as CoreFolder;
  const dir = join("reports/mutation", folder);
  mkdirSync(join(root, dir), { recursive: true });
  const configFile = join(dir, "stryker.config.json");
  writeFileSync(join(root, configFile), `${JSON.stringify(strykerConfig(core, dir), null, 2)}\n`);
  console.log(`\n== mutation testing ${folder}`);
  const res = spawnSync(
    "nice",
    [
      "-n",
      "15",
      process.execPath,
      join(root, "node_modules/@stryker-mutator/core/bin/stryker.js"),
      "run",
      configFile,
    ],
    {
      cwd: root,
      stdio: "inherit",
      env: {
        ...process.env,
        MUTATION_TESTS: core.tests.join(","),
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${join(root, "bench/mutation/typescript-js-hook.ts")}`,
      },
    },
  );
  if (res.status !== 0) {
    failed = true;
    console.error(`stryker failed on ${folder} (exit ${res.status ?? res.signal})`);
    continue;
  }
  const report = JSON.parse(readFileSync(join(root, dir, "report.json"), "utf8")) as Report;
  scores.push({ folder, ...mutationScore(report) });
}

console.log("\nmutation score (killed + timed out / valid mutants):");
for (const s of scores) {
  const counts = Object.entries(s.counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(`${s.folder.padEnd(22)} ${s.score.toFixed(1).padStart(6)} %   ${counts}`);
}
if (scores.length > 0)
  await mergeResults(
    join(root, "bench/results.json"),
    scores.map((s) => ({ name: `mutation.score.${s.folder}`, value: Number(s.score.toFixed(2)), unit: "%" })),
  );
console.log(
  `scores merged into ${join(root, "bench/results.json")}; reports in reports/mutation/<folder>/index.html`,
);
process.exitCode = failed ? 1 : 0;
