import { defineConfig } from "vitest/config";

// Tests against the lab's OpenStack clouds (`*.openstack.test.ts`): one lab and one start of the
// services per run (globalSetup), files one at a time. Run under both locks:
//   flock /tmp/icsdn-lab.lock flock /tmp/icsdn-openstack.lock npx vitest run --config vitest.openstack.config.ts
export default defineConfig({
  test: {
    include: ["test/**/*.openstack.test.ts"],
    globalSetup: ["test/support/openstack-global-setup.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 900_000,
  },
});
