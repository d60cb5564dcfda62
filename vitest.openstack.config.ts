import { defineConfig } from "vitest/config";

// Tests against the lab's OpenStack clouds (`*.openstack.test.ts`): one lab and one start of the
// services per run (globalSetup), files one at a time. Run under both locks:
//   flock /tmp/icsdn-lab.lock flock /tmp/icsdn-openstack.lock npx vitest run --config vitest.openstack.config.ts
export default defineConfig({
  test: {
    include: ["test/**/*.openstack.test.ts"],
    globalSetup: ["test/support/openstack-global-setup.ts"],
    fileParallelism: false,
    // One retry: the lab's Nova and Neutron run on SQLite and on 2 shared cores; a snapshot or a
    // concurrent write fails there now and then (HTTP 500, a snapshot image deleted by Nova), which
    // a real cloud's services would not do. A test that fails twice fails the run; vitest's report
    // names every retried test, so a flaky one stays visible.
    retry: 1,
    testTimeout: 300_000,
    hookTimeout: 900_000,
  },
});
