import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // the OpenStack tests have their own run (vitest.openstack.config.ts: one start of the clouds)
    exclude: ["test/**/*.openstack.test.ts", "**/node_modules/**"],
    // Lab tests share one machine's namespaces and OVS processes: files run one at a time.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
