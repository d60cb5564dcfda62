import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CLOUD_NAMES,
  cloudPlan,
  controllerTarget,
  HOST_ADDRESS,
  IFNAMSIZ,
  initialCloud,
  ipToInt,
  names,
  nextFromPool,
  vint0Address,
  wanPlan,
} from "../../lab/plan.ts";
import { labDir } from "../../lab/state.ts";
import { icsdn } from "./helpers.ts";

const inNet = (ip: string, net: string): boolean => {
  const [base, len] = net.split("/");
  const mask = len === "0" ? 0 : (~0 << (32 - Number(len))) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === (ipToInt(base!) & mask) >>> 0;
};
const TEST_NETS = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];
const isTestNet = (ip: string): boolean => TEST_NETS.some((n) => inNet(ip, n));

describe("address plan", () => {
  const clouds = CLOUD_NAMES.map((_, i) => cloudPlan(i));

  it("puts every underlay, floating, WAN and management address in a TEST-NET range", () => {
    for (const c of clouds) {
      for (const ip of [
        c.provider.split("/")[0]!,
        c.routerProviderIp,
        c.fixedPool.first,
        c.fixedPool.last,
        c.floatingPool.first,
        c.floatingPool.last,
        c.routerMgmtIp,
      ]) {
        expect(isTestNet(ip), `${c.name}: ${ip}`).toBe(true);
      }
      expect(inNet(c.fixedPool.first, c.provider) && inNet(c.fixedPool.last, c.provider)).toBe(true);
      expect(
        inNet(c.floatingPool.first, c.floatingRange) && inNet(c.floatingPool.last, c.floatingRange),
      ).toBe(true);
    }
    for (const w of wanPlan(4)) expect(isTestNet(w.ipA) && isTestNet(w.ipB)).toBe(true);
    expect(isTestNet(HOST_ADDRESS)).toBe(true);
    for (let i = 1; i <= 60; i++) expect(inNet(vint0Address(i).ip, "198.18.0.0/24")).toBe(true);
  });

  it("keeps the clouds' networks, floating ranges, WAN links and management network apart", () => {
    const ranges = [
      ...clouds.map((c) => c.provider),
      ...clouds.map((c) => c.floatingRange),
      ...wanPlan(4).map((w) => w.network),
      "203.0.113.224/27",
    ];
    for (let i = 0; i < ranges.length; i++) {
      for (let j = i + 1; j < ranges.length; j++) {
        const [a, b] = [ranges[i]!, ranges[j]!];
        expect(inNet(a.split("/")[0]!, b) || inNet(b.split("/")[0]!, a), `${a} vs ${b}`).toBe(false);
      }
    }
    expect(cloudPlan(0).provider).toBe("192.0.2.0/25");
    expect(cloudPlan(1).provider).toBe("198.51.100.0/25");
    expect(wanPlan(2)).toEqual([
      { a: "a", b: "b", network: "203.0.113.0/30", ipA: "203.0.113.1", ipB: "203.0.113.2", prefix: 30 },
    ]);
    expect(wanPlan(4)).toHaveLength(6);
    expect(() => cloudPlan(4)).toThrow(/at most 4/);
  });

  it("hands out pool addresses in order and never reuses one", () => {
    const pool = cloudPlan(0).floatingPool;
    expect(nextFromPool(pool, [])).toBe("203.0.113.33");
    expect(nextFromPool(pool, ["203.0.113.33", "203.0.113.34"])).toBe("203.0.113.35");
    // .33 released: still not handed out again.
    expect(nextFromPool(pool, ["203.0.113.34"])).toBe("203.0.113.35");
    expect(nextFromPool(pool, [pool.last])).toBeUndefined();
  });

  it("names fit the kernel's interface name limit and carry the lab's prefix", () => {
    const n = names("abcd");
    for (const name of [
      n.providerBridge("d"),
      n.mgmtBridge(),
      n.routerProviderPort("d"),
      n.routerMgmtPort("d"),
      n.instancePort(999, 1),
    ]) {
      expect(name.length).toBeLessThanOrEqual(IFNAMSIZ);
      expect(name.startsWith("icabcd-")).toBe(true);
    }
    expect(n.instance("vm12", 7)).toBe("icabcd-vm12-7");
    expect(() => names("Bad")).toThrow();
    expect(() => names("toolong")).toThrow();
  });

  it("gives vmN a fixed vint0 address and MAC", () => {
    expect(vint0Address(10)).toEqual({ ip: "198.18.0.10", prefix: 24, mac: "02:1c:c6:12:00:0a" });
  });

  it("spreads VMs over clouds in order", () => {
    expect([1, 2, 3, 4].map((i) => initialCloud(i, 2))).toEqual(["a", "a", "b", "b"]);
  });

  it("reads controller targets", () => {
    expect(controllerTarget("host")).toBe(`tcp:${HOST_ADDRESS}:6653`);
    expect(controllerTarget("host:16653")).toBe(`tcp:${HOST_ADDRESS}:16653`);
    expect(controllerTarget("tcp:127.0.0.1:6653")).toBe("tcp:127.0.0.1:6653");
    expect(() => controllerTarget("tcp:nohost:1")).toThrow(/--controller/);
    expect(() => controllerTarget("tcp:1.2.3.4:70000")).toThrow(/port/);
  });
});

describe("lab CLI input checks", () => {
  it("refuses bad options with a usage error naming the option, and makes nothing", async () => {
    for (const [args, flag] of [
      [["--tunnel", "ipip"], "--tunnel"],
      [["--clouds", "9"], "--clouds"],
      [["--nics", "3"], "--nics"],
      [["--wan-mbit", "-5"], "--wan-mbit"],
      [["--controller", "somewhere"], "--controller"],
      [["--controller-rest", "8080"], "--controller-rest and --token-file"],
      [["--controller-rest", "0", "--token-file", "/tmp/t"], "--controller-rest"],
      [["--controller-rest", "8080", "--token-file", "token"], "--token-file"],
      [["--name", "Bad!"], "--name"],
    ] as const) {
      const res = await icsdn(["lab", "up", "--name", "tp", ...args], { check: false });
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toContain(flag);
    }
    expect(existsSync(labDir("tp"))).toBe(false);
  });

  it("says there is no lab when none is up, and 'down' of nothing succeeds", async () => {
    const res = await icsdn(["lab", "status", "--name", "tp"], { check: false });
    expect(res.code).toBe(3); // NO_LAB: EXIT.NOT_FOUND
    expect(res.stderr).toMatch(/NO_LAB/);
    expect((await icsdn(["lab", "down", "--name", "tp"])).code).toBe(0);
    expect(existsSync(labDir("tp"))).toBe(false);
  });
});
