/**
 * Stopping and resetting the clouds after a SIGKILL: the parent of a service with workers is
 * killed (its worker is orphaned, still holding the listening socket: the recipe's pitfall 14),
 * and nova-compute too; a reset stops every process of theirs by process group and pid file and
 * brings both clouds back in their golden state (only what they start with).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openstackRoot } from "../../lab/openstack/services.ts";
import { isAlive, run } from "../../lab/sh.ts";
import { openstackLab } from "../support/openstack-lab.ts";

const os = openstackLab();

function pidOf(service: string): number {
  return Number(readFileSync(join(openstackRoot(), "run", `${service}.pid`), "utf8"));
}

async function groupMembers(pgid: number): Promise<number[]> {
  const res = await run("pgrep", ["-g", String(pgid)], { check: false });
  return res.stdout.split("\n").filter(Boolean).map(Number);
}

describe.skipIf(!os)("the lab's OpenStack clouds after a SIGKILL", () => {
  const lab = os!;

  it("are stopped whole and reset to their golden state", async () => {
    await lab.cli("lab-a", ["keypair", "create", "k-reset"]);
    expect((await lab.json<{ Name: string }[]>("lab-a", ["keypair", "list"])).map((k) => k.Name)).toContain(
      "k-reset",
    );
    const neutron = pidOf("a-neutron-server");
    const before = await groupMembers(neutron);
    expect(before.length).toBeGreaterThan(1); // the API parent and its RPC worker
    const compute = pidOf("a-nova-compute");
    process.kill(neutron, "SIGKILL");
    process.kill(compute, "SIGKILL");
    const started = Date.now();
    await lab.reset();
    const seconds = (Date.now() - started) / 1000;
    for (const pid of before) expect(isAlive(pid)).toBe(false);
    expect(pidOf("a-neutron-server")).not.toBe(neutron);
    // golden: what each cloud starts with, and nothing a test made
    for (const c of lab.clouds) {
      const images = await lab.json<{ Name: string }[]>(c.entry, ["image", "list"]);
      expect(images.map((i) => i.Name)).toEqual(["lab-disk"]);
      expect(await lab.json<unknown[]>(c.entry, ["server", "list"])).toEqual([]);
      expect(await lab.json<unknown[]>(c.entry, ["keypair", "list"])).toEqual([]);
    }
    process.stderr.write(`[openstack-lab] reset after SIGKILL: ${seconds.toFixed(1)} s\n`);
  });
});
