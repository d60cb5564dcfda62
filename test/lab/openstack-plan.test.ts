import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeImageFile, parseSize } from "../../lab/openstack/disk.ts";
import { openstackPlan } from "../../lab/openstack/plan.ts";
import { cloudPlan, ipToInt } from "../../lab/plan.ts";

describe("the OpenStack clouds on the lab's address plan", () => {
  it("puts each cloud in its own region and ports, on the lab cloud's networks", () => {
    const [a, b] = openstackPlan(2);
    expect([a?.region, b?.region]).toEqual(["region-a", "region-b"]);
    expect([a?.ports, b?.ports]).toEqual([
      { glance: 9292, nova: 8774, placement: 8778, neutron: 9696 },
      { glance: 9293, nova: 8775, placement: 8779, neutron: 9697 },
    ]);
    expect(b).toMatchObject({
      provider: "198.51.100.0/25",
      gateway: "198.51.100.1",
      floatingRange: "203.0.113.64/27",
    });
  });

  it("leaves the bottom of each pool to the lab's own VMs and the top to Neutron", () => {
    for (const [i, c] of openstackPlan(2).entries()) {
      const lab = cloudPlan(i);
      expect(c.fixedPool.last).toBe(lab.fixedPool.last);
      expect(c.floatingPool.last).toBe(lab.floatingPool.last);
      // room for the lab's 15 VMs per cloud below Neutron's part
      expect(ipToInt(c.fixedPool.first) - ipToInt(lab.fixedPool.first)).toBeGreaterThanOrEqual(15);
      expect(ipToInt(c.floatingPool.first) - ipToInt(lab.floatingPool.first)).toBeGreaterThanOrEqual(15);
    }
  });

  it("refuses a cloud count it cannot run", () => {
    expect(() => openstackPlan(3)).toThrow(/1\.\.2/);
    expect(() => openstackPlan(0)).toThrow(/1\.\.2/);
  });
});

describe("image files and sizes", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-image-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads sizes as the paper's MB (10^6 bytes)", () => {
    expect(parseSize("800M")).toBe(800_000_000);
    expect(parseSize("1060.94M")).toBe(1_060_940_000);
    expect(parseSize("4096")).toBe(4096);
    expect(() => parseSize("12 MB")).toThrow(/size '12 MB'/);
  });

  it("makes incompressible and sparse images of the exact size", () => {
    const random = join(dir, "r.raw");
    const sparse = join(dir, "s.raw");
    makeImageFile(random, 3_000_000, "random");
    makeImageFile(sparse, 30_000_000, "sparse");
    expect(statSync(random).size).toBe(3_000_000);
    expect(statSync(sparse).size).toBe(30_000_000);
    // sparse: a random first MiB, zeros after it, and few blocks on disk
    const s = readFileSync(sparse);
    expect(s.subarray(1 << 20).every((b) => b === 0)).toBe(true);
    expect(statSync(sparse).blocks * 512).toBeLessThan(2 << 20);
    // incompressible: no long run of one byte value
    expect(new Set(readFileSync(random).subarray(0, 4096)).size).toBeGreaterThan(200);
  });
});
