/**
 * The data-plane contract vm-init and the controller both follow: the controller recognises a
 * switch by the dpid vm-init gives icbr0, and its rules name icbr0's ports by number.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  datapathIdFor,
  formatDpid,
  inSubnet,
  ipv4ToU32,
  isCanonicalIpv4,
  parseIpv4,
  parseIpv4Cidr,
  splitDatapathId,
  subnetsOverlap,
  u32ToIpv4,
  vint0MacFor,
} from "../../contract/dataplane/index.ts";
import { IcsdnError } from "../../contract/errors/index.ts";

describe("vint0 MACs", () => {
  it("are 02:1c and vint0's four bytes, whatever the prefix", () => {
    expect(vint0MacFor("198.18.0.11")).toBe("02:1c:c6:12:00:0b");
    expect(vint0MacFor("198.18.0.11/24")).toBe("02:1c:c6:12:00:0b");
    expect(vint0MacFor("0.0.0.0")).toBe("02:1c:00:00:00:00");
  });

  it("are unicast, locally administered, and distinct for distinct addresses", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (a, b) => {
          const mac = vint0MacFor(u32ToIpv4(a));
          expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
          const first = Number.parseInt(mac.slice(0, 2), 16);
          expect(first & 1).toBe(0);
          expect(first & 2).toBe(2);
          expect(vint0MacFor(u32ToIpv4(b)) === mac).toBe(a === b);
        },
      ),
    );
  });

  it("refuse what is not an IPv4 address", () => {
    expect(() => vint0MacFor("198.18.0")).toThrow(IcsdnError);
    expect(() => vint0MacFor("fe80::1")).toThrow(/not an IPv4 address/);
  });
});

describe("datapath ids", () => {
  it("are (vni << 32) | vint0 as u32, in 16 hex digits", () => {
    expect(datapathIdFor(42, "198.18.0.1")).toBe(0x0000002a_c6120001n);
    expect(datapathIdFor(42, "198.18.0.1/24")).toBe(0x0000002a_c6120001n);
    expect(formatDpid(datapathIdFor(42, "198.18.0.1"))).toBe("0000002ac6120001");
    expect(formatDpid(datapathIdFor(0xffffff, "255.255.255.255"))).toBe("00ffffffffffffff");
    expect(formatDpid(datapathIdFor(1, "0.0.0.1"))).toBe("0000000100000001");
  });

  it("split back to VNI and vint0 for every VNI and address", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (vni, n) => {
          const vint0 = u32ToIpv4(n);
          const dpid = datapathIdFor(vni, vint0);
          expect(splitDatapathId(dpid)).toEqual({ vni, vint0 });
          expect(dpid >> 56n).toBe(0n);
          expect(BigInt(`0x${formatDpid(dpid)}`)).toBe(dpid);
        },
      ),
      { numRuns: 500 },
    );
  });

  it.each([
    [0, "198.18.0.1", /vni 0 is out of range 1\.\.16777215/, "vni"],
    [0x1000000, "198.18.0.1", /out of range/, "vni"],
    [1.5, "198.18.0.1", /out of range/, "vni"],
    [42, "198.18.0", /"198.18.0" is not an IPv4 address/, "vint0"],
    [42, "198.18.0.01", /not an IPv4 address/, "vint0"],
    [42, "198.18.0.256", /not an IPv4 address/, "vint0"],
  ])("refuses vni %s, vint0 %s with a registered error naming the field", (vni, vint0, message, field) => {
    const err = (() => {
      try {
        datapathIdFor(vni, vint0);
      } catch (e) {
        return e;
      }
      throw new Error("no error");
    })();
    expect(err).toBeInstanceOf(IcsdnError);
    expect(err).toMatchObject({ code: "INVALID_ARGUMENT", field, exitCode: 2, status: 400 });
    expect((err as Error).message).toMatch(message);
  });
});

describe("IPv4 addresses", () => {
  it("u32 and dotted quad convert both ways, and the fast check agrees with the full parser", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const ip = u32ToIpv4(n);
        expect(ipv4ToU32(ip)).toBe(n);
        expect(isCanonicalIpv4(ip)).toBe(true);
        expect(parseIpv4(ip)).toBe(ip);
      }),
      { numRuns: 500 },
    );
    for (const bad of ["01.2.3.4", "1.2.3", "1.2.3.4/24", "1.2.3.4.5", "256.0.0.1", " 1.2.3.4", ""]) {
      expect(isCanonicalIpv4(bad), bad).toBe(false);
      expect(parseIpv4(bad), bad).toBeUndefined();
    }
  });

  it("tells subnets apart", () => {
    const net = parseIpv4Cidr("198.18.0.0/24")!;
    expect(inSubnet("198.18.0.77", net)).toBe(true);
    expect(inSubnet("198.18.1.1", net)).toBe(false);
    expect(subnetsOverlap(net, parseIpv4Cidr("198.18.0.128/25")!)).toBe(true);
    expect(subnetsOverlap(net, parseIpv4Cidr("198.19.0.0/16")!)).toBe(false);
    expect(parseIpv4Cidr("198.18.0.0")).toBeUndefined();
  });
});
