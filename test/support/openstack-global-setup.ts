/**
 * globalSetup of vitest.openstack.config.ts: lab `os` (two clouds, no lab VMs of its own) and its
 * OpenStack services, once per run; teardown stops the services and takes the lab down whether
 * the tests passed or not. A lab `os` or services left by a killed run are removed first.
 * Packages missing: outside CI the tests skip (openstackLab() is null); with CI=true it fails.
 */
import type { TestProject } from "vitest/node";
import { down, up } from "../../lab/lab.ts";
import { startOpenStack, stopOpenStack } from "../../lab/openstack/services.ts";
import type { LabOptions } from "../../lab/state.ts";
import { openstackMissing } from "./openstack-lab.ts";

export const OPENSTACK_TEST_LAB = "os";
const log = (line: string) => process.stderr.write(`[openstack-lab] ${line}\n`);

export const OPENSTACK_LAB_OPTIONS: LabOptions = {
  clouds: 2,
  vmsPerCloud: 0,
  tunnel: "vxlan",
  wanMbit: null,
  nics: 1,
  controllers: [],
  vni: 42,
  clusterId: "os",
};

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const missing = openstackMissing();
  if (missing.length > 0) {
    if (process.env.CI === "true") throw new Error(`OpenStack tests need: ${missing.join(", ")}`);
    log(`skipping OpenStack tests: missing ${missing.join(", ")}`);
    project.provide("openstackLab", null);
    return async () => {};
  }
  const teardown = async () => {
    await stopOpenStack(log).catch((e) => log(`stopping OpenStack: ${e}`));
    await down(OPENSTACK_TEST_LAB, log).catch((e) => log(`lab down: ${e}`));
  };
  await teardown();
  try {
    await up(OPENSTACK_TEST_LAB, OPENSTACK_LAB_OPTIONS, log);
    const os = await startOpenStack(OPENSTACK_TEST_LAB, 2, { reset: true }, log);
    log(`clouds up in ${os.startS.toFixed(1)} s (${os.cloudsYaml})`);
    project.provide("openstackLab", { labName: os.labName, cloudsYaml: os.cloudsYaml, clouds: os.clouds });
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
