import { defineConfig } from "vitest/config";

// The vitest config Stryker runs per mutant: the project's settings, narrowed to the test files
// bench/mutation/run.ts names for the folder under test (MUTATION_TESTS, comma-separated globs).
const tests = (process.env.MUTATION_TESTS ?? "").split(",").filter(Boolean);
if (tests.length === 0) throw new Error("MUTATION_TESTS is empty: run this through `npm run mutation`");

export default defineConfig({
  test: {
    include: tests,
    fileParallelism: false,
    // No system parts under mutation: a test driving real OVS says so in its name, and is left out.
    testNamePattern: /^(?!.*real OVS)/,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
