/**
 * The lab's OpenStack clouds for tests (files named `*.openstack.test.ts`, run by
 * vitest.openstack.config.ts): its globalSetup (openstack-global-setup.ts) brings up lab `os` with
 * two clouds and their OpenStack services once per run, and takes everything down afterwards,
 * even when tests fail. A test gets the running clouds with `openstackLab()`:
 *
 *   const os = openstackLab();                     // null: skip (packages missing, outside CI)
 *   await os.cli("lab-a", ["server", "list"]);     // the real `openstack` CLI, that cloud's user
 *   await os.json<{ ID: string }[]>("lab-b-admin", ["image", "list"]);
 *   os.env("lab-a")                                // OS_CLIENT_CONFIG_FILE + OS_CLOUD for any client
 *   os.cloudsYaml, os.clouds[i].region/.entry/.adminEntry/.ports, os.labName ("os")
 *   await os.reset()                               // golden state again (restarts the services)
 */
import { spawnSync } from "node:child_process";
import { inject } from "vitest";
import type { OpenStackCloudPlan } from "../../lab/openstack/plan.ts";
import { startOpenStack } from "../../lab/openstack/services.ts";
import { type RunResult, run } from "../../lab/sh.ts";
import type { LabOptions } from "../../lab/state.ts";

export interface OpenStackLabInfo {
  readonly labName: string;
  readonly cloudsYaml: string;
  readonly clouds: OpenStackCloudPlan[];
}

declare module "vitest" {
  export interface ProvidedContext {
    openstackLab: OpenStackLabInfo | null;
  }
}

/** The lab the OpenStack tests and bench bring up: two clouds, no lab VMs of its own. */
export const OPENSTACK_TEST_LAB = "os";
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

export const OPENSTACK_PACKAGES = [
  "python3-keystone",
  "python3-glance",
  "python3-placement",
  "python3-nova",
  "python3-neutron",
  "python3-openstackclient",
  "rabbitmq-server",
  "uwsgi-plugin-python3",
  "openssh-server",
  "qemu-utils",
  // the mediation converts images for cloud b (qcow2 only) through nbdkit's curl plugin
  "nbdkit",
];

/** What keeps the OpenStack tests from running here (empty: nothing). */
export function openstackMissing(): string[] {
  const missing = OPENSTACK_PACKAGES.filter(
    (p) =>
      !spawnSync("dpkg", ["-s", p], { encoding: "utf8" }).stdout?.includes("Status: install ok installed"),
  );
  if (process.getuid?.() !== 0) missing.push("root");
  return missing;
}

export interface OpenStackLab extends OpenStackLabInfo {
  env(entry: string): Record<string, string>;
  /** Runs `openstack ARGS` as clouds.yaml entry `entry` (lab-a, lab-b, lab-a-admin, lab-b-admin). */
  cli(
    entry: string,
    args: readonly string[],
    opts?: { check?: boolean; timeoutMs?: number },
  ): Promise<RunResult>;
  /** The same with `-f json`, parsed. */
  json<T>(entry: string, args: readonly string[], timeoutMs?: number): Promise<T>;
  /** Back to the golden state: servers, images, keys, rules made by tests are gone. */
  reset(): Promise<void>;
}

/** The running clouds, or null when this run has none (the tests skip; in CI the setup failed instead). */
export function openstackLab(): OpenStackLab | null {
  const info = inject("openstackLab");
  if (!info) return null;
  const env = (entry: string) => ({ OS_CLIENT_CONFIG_FILE: info.cloudsYaml, OS_CLOUD: entry });
  const cli = (entry: string, args: readonly string[], opts: { check?: boolean; timeoutMs?: number } = {}) =>
    run("openstack", args, {
      env: env(entry),
      timeoutMs: opts.timeoutMs ?? 120_000,
      check: opts.check ?? true,
    });
  return {
    ...info,
    env,
    cli,
    json: async <T>(entry: string, args: readonly string[], timeoutMs?: number) =>
      JSON.parse((await cli(entry, [...args, "-f", "json"], { timeoutMs })).stdout) as T,
    reset: async () => {
      await startOpenStack(info.labName, info.clouds.length, { reset: true }, () => {});
    },
  };
}
