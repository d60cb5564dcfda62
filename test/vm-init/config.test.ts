import { describe, expect, it } from "vitest";
import {
  parseConfig,
  TUNNEL_OVERHEAD,
  type VmInitConfig,
  VmInitError,
  vint0Mtu,
} from "../../vm-init/index.ts";
import { parseTarget } from "../../vm-init/validate.ts";

const base = {
  clusterId: "c1",
  vni: 42,
  tunnel: "vxlan",
  vint0: { address: "198.18.0.1/24" },
  underlay: { nics: ["eth0"], address: "203.0.113.10/24" },
};

/** The config as loose JSON, so a test can break any field of it. */
interface Loose {
  [key: string]: unknown;
  vint0: Record<string, unknown>;
  underlay: Record<string, unknown>;
}

/** A deep copy of `base` with `edit` applied (edit mutates the copy). */
function variant(edit: (c: Loose) => void): unknown {
  const c = structuredClone(base) as Loose;
  edit(c);
  return c;
}

function refusal(input: unknown): VmInitError {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(VmInitError);
    return err as VmInitError;
  }
  throw new Error("config was accepted");
}

describe("parseConfig", () => {
  it("fills in defaults and canonical forms", () => {
    const c = parseConfig(
      variant((c) => {
        c.vint0.mac = "02:AA:00:00:00:01";
        c.controller = {
          targets: ["tcp:198.51.100.1", "ssl:198.51.100.2:6654"],
          restUrl: "http://198.51.100.1:8080",
          vmId: "vm1",
          tokenFile: "/etc/icsdn/token",
          tls: {
            privateKey: "/etc/icsdn/vm1.key",
            certificate: "/etc/icsdn/vm1.crt",
            caCertificate: "/etc/icsdn/ca.crt",
          },
        };
      }),
    );
    expect(c).toEqual<VmInitConfig>({
      clusterId: "c1",
      vni: 42,
      tunnel: "vxlan",
      datapath: "system",
      vint0: { address: "198.18.0.1/24", mac: "02:aa:00:00:00:01" },
      underlay: { nics: ["eth0"], address: "203.0.113.10/24", bondMode: "active-backup" },
      controller: {
        targets: ["tcp:198.51.100.1:6653", "ssl:198.51.100.2:6654"],
        restUrl: "http://198.51.100.1:8080/",
        vmId: "vm1",
        tokenFile: "/etc/icsdn/token",
        tls: {
          privateKey: "/etc/icsdn/vm1.key",
          certificate: "/etc/icsdn/vm1.crt",
          caCertificate: "/etc/icsdn/ca.crt",
        },
        connectTimeoutMs: 3000,
      },
      offload: { txChecksum: "keep" },
    });
    // A normalised config is valid input and parses to itself (it is what user-data writes).
    expect(parseConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
  });

  it("accepts takeover with an optional gateway, bonds and every option", () => {
    const c = parseConfig(
      variant((c) => {
        c.datapath = "netdev";
        c.tunnel = "gre";
        c.underlay = {
          nics: ["eth0", "eth1", "ens3"],
          address: "takeover",
          gateway: "203.0.113.1",
          mtu: 1450,
          bondMode: "balance-tcp",
        };
        c.offload = { txChecksum: "off" };
        c.controller = { targets: [], connectTimeoutMs: 0 };
      }),
    );
    expect(c.underlay).toEqual({
      nics: ["eth0", "eth1", "ens3"],
      address: "takeover",
      gateway: "203.0.113.1",
      mtu: 1450,
      bondMode: "balance-tcp",
    });
    expect(c.controller.targets).toEqual([]);
  });

  // Every refusal names the field, and the message says what is wrong with it.
  const bad: [string, unknown, string, RegExp][] = [
    ["not an object", [], "", /must be an object/],
    ["unknown field", variant((c) => (c.vnii = 1)), "vnii", /unknown field/],
    ["missing clusterId", variant((c) => delete c.clusterId), "clusterId", /must be a string/],
    ["bad clusterId", variant((c) => (c.clusterId = "-x")), "clusterId", /must be 1-64/],
    ["vni 0", variant((c) => (c.vni = 0)), "vni", /0 is out of range 1\.\.16777215/],
    ["vni too big", variant((c) => (c.vni = 16777216)), "vni", /out of range/],
    ["vni not integer", variant((c) => (c.vni = 1.5)), "vni", /integer/],
    ["tunnel", variant((c) => (c.tunnel = "geneve")), "tunnel", /one of "vxlan", "gre"/],
    ["datapath", variant((c) => (c.datapath = "dpdk")), "datapath", /one of "system", "netdev"/],
    [
      "vint0 without prefix",
      variant((c) => (c.vint0.address = "198.18.0.1")),
      "vint0.address",
      /with prefix/,
    ],
    [
      "vint0 bad address",
      variant((c) => (c.vint0.address = "198.18.0.256/24")),
      "vint0.address",
      /not an IPv4/,
    ],
    [
      "vint0 leading zero",
      variant((c) => (c.vint0.address = "198.018.0.1/24")),
      "vint0.address",
      /not an IPv4/,
    ],
    [
      "vint0 network address",
      variant((c) => (c.vint0.address = "198.18.0.0/24")),
      "vint0.address",
      /network or broadcast/,
    ],
    [
      "vint0 /32",
      variant((c) => (c.vint0.address = "198.18.0.1/32")),
      "vint0.address",
      /out of range 1\.\.31/,
    ],
    [
      "vint0 overlaps underlay",
      variant((c) => (c.vint0.address = "203.0.113.20/24")),
      "vint0.address",
      /overlaps/,
    ],
    ["vint0 multicast mac", variant((c) => (c.vint0.mac = "01:00:5e:00:00:01")), "vint0.mac", /multicast/],
    ["vint0 bad mac", variant((c) => (c.vint0.mac = "02:00:00:00:00")), "vint0.mac", /not a MAC/],
    ["no nics", variant((c) => (c.underlay.nics = [])), "underlay.nics", /1 to 8 items/],
    [
      "nic with space",
      variant((c) => (c.underlay.nics = ["eth0", "x y"])),
      "underlay.nics[1]",
      /interface name "x y" is not valid/,
    ],
    [
      "nic too long",
      variant((c) => (c.underlay.nics = ["abcdefghijklmnop"])),
      "underlay.nics[0]",
      /not valid/,
    ],
    [
      "nic reserved",
      variant((c) => (c.underlay.nics = ["vint0"])),
      "underlay.nics[0]",
      /vm-init itself creates/,
    ],
    ["nic twice", variant((c) => (c.underlay.nics = ["eth0", "eth0"])), "underlay.nics[1]", /listed twice/],
    ["nic not string", variant((c) => (c.underlay.nics = [7])), "underlay.nics[0]", /must be a string/],
    ["underlay address", variant((c) => (c.underlay.address = "dhcp")), "underlay.address", /or "takeover"/],
    [
      "gateway outside",
      variant((c) => (c.underlay.gateway = "192.0.2.1")),
      "underlay.gateway",
      /outside the underlay subnet/,
    ],
    [
      "gateway is self",
      variant((c) => (c.underlay.gateway = "203.0.113.10")),
      "underlay.gateway",
      /address itself/,
    ],
    ["gateway bad", variant((c) => (c.underlay.gateway = "gw")), "underlay.gateway", /not an IPv4/],
    ["mtu small", variant((c) => (c.underlay.mtu = 100)), "underlay.mtu", /out of range 576\.\.65535/],
    ["bond mode", variant((c) => (c.underlay.bondMode = "lacp")), "underlay.bondMode", /active-backup/],
    [
      "target scheme",
      variant((c) => (c.controller = { targets: ["udp:1.2.3.4:6653"] })),
      "controller.targets[0]",
      /not a controller target/,
    ],
    [
      "target host name",
      variant((c) => (c.controller = { targets: ["tcp:ctl.example:6653"] })),
      "controller.targets[0]",
      /not a controller target/,
    ],
    [
      "target port",
      variant((c) => (c.controller = { targets: ["tcp:1.2.3.4:70000"] })),
      "controller.targets[0]",
      /not a controller target/,
    ],
    [
      "target twice",
      variant((c) => (c.controller = { targets: ["tcp:1.2.3.4", "tcp:1.2.3.4:6653"] })),
      "controller.targets[1]",
      /listed twice/,
    ],
    [
      "rest url",
      variant((c) => (c.controller = { restUrl: "ftp://x", vmId: "vm1" })),
      "controller.restUrl",
      /http\(s\) URL/,
    ],
    [
      "ssl target without tls files",
      variant((c) => (c.controller = { targets: ["ssl:198.51.100.2:6654"] })),
      "controller.tls",
      /ssl: targets need controller.tls/,
    ],
    [
      "tls without its CA",
      variant(
        (c) =>
          (c.controller = {
            targets: ["ssl:198.51.100.2:6654"],
            tls: { privateKey: "/k", certificate: "/c" } as {
              privateKey: string;
              certificate: string;
              caCertificate: string;
            },
          }),
      ),
      "controller.tls.caCertificate",
      /is required/,
    ],
    [
      "rest url without vm id",
      variant((c) => (c.controller = { restUrl: "http://198.51.100.1:8080" })),
      "controller.restUrl",
      /restUrl and vmId go together/,
    ],
    [
      "vm id not a DNS label",
      variant((c) => (c.controller = { restUrl: "http://198.51.100.1:8080", vmId: "VM_1" })),
      "controller.vmId",
      /DNS label/,
    ],
    [
      "relative token file",
      variant(
        (c) => (c.controller = { restUrl: "http://198.51.100.1:8080", vmId: "vm1", tokenFile: "token" }),
      ),
      "controller.tokenFile",
      /absolute path/,
    ],
    [
      "timeout",
      variant((c) => (c.controller = { connectTimeoutMs: -1 })),
      "controller.connectTimeoutMs",
      /out of range/,
    ],
    ["offload", variant((c) => (c.offload = { txChecksum: "on" })), "offload.txChecksum", /"keep", "off"/],
  ];
  it.each(bad)("refuses %s, naming the field", (_name, input, field, message) => {
    const err = refusal(input);
    expect(err.code).toBe("INVALID_CONFIG");
    expect(err.field).toBe(field);
    const issue = err.issues.find((i) => i.path === field);
    expect(issue?.message).toMatch(message);
    expect(err.message).toContain(field === "" ? ": must be an object" : `${field}: `);
  });

  it("reports every problem at once", () => {
    const err = refusal(
      variant((c) => {
        c.vni = 0;
        c.underlay.nics = ["eth0", "x y"];
      }),
    );
    expect(err.issues.map((i) => i.path)).toEqual(["vni", "underlay.nics[1]"]);
    expect(err.message).toContain('underlay.nics[1]: interface name "x y" is not valid');
  });
});

describe("tunnel overhead", () => {
  it("leaves room for VXLAN (50) and keyed GRE (42) headers", () => {
    expect(TUNNEL_OVERHEAD).toEqual({ vxlan: 50, gre: 42 });
    expect(vint0Mtu(1500, "vxlan")).toBe(1450);
    expect(vint0Mtu(1500, "gre")).toBe(1458);
  });
});

describe("parseTarget", () => {
  it("normalises the port and refuses anything but tcp/ssl to an IPv4 literal", () => {
    expect(parseTarget("tcp:10.0.0.1")).toBe("tcp:10.0.0.1:6653");
    expect(parseTarget("ssl:10.0.0.1:443")).toBe("ssl:10.0.0.1:443");
    expect(parseTarget("ptcp:6653")).toBeUndefined();
    expect(parseTarget("tcp:10.0.0.1:0")).toBeUndefined();
    expect(parseTarget("tcp:[::1]:6653")).toBeUndefined();
  });
});
