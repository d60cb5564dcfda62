/**
 * The pure core: desired state, parsers of what OVSDB (a monitor reply) and ip print, the
 * planners, preflight. The fixtures are real output, captured from a sandbox after `apply` of
 * `bondConfig`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { desiredKernel, desiredOvs, type UnderlayFacts } from "../../vm-init/desired.ts";
import { parseConfig, type VmInitConfig, VmInitError } from "../../vm-init/index.ts";
import { parseIpRead } from "../../vm-init/ip-observed.ts";
import { planIp } from "../../vm-init/ip-plan.ts";
import type { KernelLink, KernelObserved, OvsObserved, OvsState, OvsUuids } from "../../vm-init/model.ts";
import { observedFrom } from "../../vm-init/ovs-observed.ts";
import { planControllerRestart, planOvs } from "../../vm-init/ovs-plan.ts";
import { applyTableUpdates, type Tables } from "../../vm-init/ovsdb/replica.ts";
import { preflight } from "../../vm-init/preflight.ts";
import { establishedPeers } from "../../vm-init/proc-net.ts";
import { kernelAfterTeardown, kernelAsBefore, ownBridges } from "../../vm-init/restore.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");

/** What a monitor reply (captured) gives vm-init. */
function parseMonitor(text: string): OvsObserved {
  const tables: Tables = new Map();
  applyTableUpdates(tables, JSON.parse(text));
  return observedFrom(tables);
}

const bondConfig = parseConfig({
  clusterId: "c1",
  vni: 42,
  tunnel: "gre",
  datapath: "netdev",
  vint0: { address: "198.18.0.1/24", mac: "02:00:00:00:00:01" },
  underlay: {
    nics: ["eth0", "eth1"],
    address: "203.0.113.130/30",
    gateway: "203.0.113.129",
    bondMode: "balance-tcp",
  },
  controller: { targets: ["tcp:203.0.113.250:6653"], connectTimeoutMs: 0 },
});
const bondFacts: UnderlayFacts = {
  address: "203.0.113.130/30",
  gateway: "203.0.113.129",
  mtu: 1500,
  firstNicMac: "46:17:bf:68:55:25",
};

const single = (edit: (c: VmInitConfig) => void = () => {}): VmInitConfig => {
  const c = parseConfig({
    clusterId: "c1",
    vni: 42,
    tunnel: "vxlan",
    datapath: "netdev",
    vint0: { address: "198.18.0.1/24" },
    underlay: { nics: ["eth0"], address: "203.0.113.10/24", gateway: "203.0.113.1" },
    controller: { targets: ["tcp:203.0.113.1:6653"] },
  });
  edit(c);
  return c;
};
const facts: UnderlayFacts = {
  address: "203.0.113.10/24",
  gateway: "203.0.113.1",
  mtu: 1500,
  firstNicMac: "fa:16:3e:00:00:01",
};

const noUuids: OvsUuids = { bridge: new Map(), port: new Map(), interface: new Map(), controller: new Map() };
const EMPTY: OvsState = { bridges: [] };

function link(name: string, over: Partial<KernelLink> = {}): KernelLink {
  return { name, up: true, noarp: false, mtu: 1500, mac: "fa:16:3e:00:00:01", addresses: [], ...over };
}
function kernel(links: KernelLink[], defaultRoutes: KernelObserved["defaultRoutes"] = []): KernelObserved {
  return { links: new Map(links.map((l) => [l.name, l])), defaultRoutes };
}
function emptyOvs(): OvsObserved {
  return {
    state: EMPTY,
    uuids: noUuids,
    interfaces: new Map(),
    portBridge: new Map(),
    interfacePort: new Map(),
    controllers: [],
    datapathIds: new Map(),
  };
}

describe("what apply built reads back as what it wanted", () => {
  // Parsed in each test, not while collecting: so the parsers count as what these tests cover
  // (mutation testing attributes coverage per test).
  let ovs: OvsObserved;
  let ip: KernelObserved;
  beforeEach(() => {
    ovs = parseMonitor(fixture("ovsdb-monitor-bond.json"));
    ip = parseIpRead(fixture("ip-read-bond.txt"));
  });

  it("OVS: the parsed state equals the desired state, so the plan is empty", () => {
    expect(ovs.state).toEqual(desiredOvs(bondConfig, bondFacts));
    expect(planOvs(desiredOvs(bondConfig, bondFacts), ovs.state, ovs.uuids)).toEqual({
      ops: [],
      controllerOps: [],
    });
    expect(ovs.datapathIds.get("icbr0")).toBe("0000002ac6120001");
    expect(ovs.interfaces.get("enc0")?.ofport).toBe(1);
    expect(ovs.interfaces.get("vint0")?.ofport).toBe(2);
    expect(ovs.interfaces.get("vint0")?.mtu).toBe(1458);
    expect(ovs.portBridge.get("icbond0-nics")).toBe("icbond0");
    expect(ovs.interfacePort.get("eth1")).toBe("icbond0-nics");
    expect(ovs.controllers).toMatchObject([
      { bridge: "icbr0", target: "tcp:203.0.113.250:6653", isConnected: false },
    ]);
  });

  it("kernel: addresses, flags and the default route; the plan is empty", () => {
    expect(ip.links.get("icbond0")).toMatchObject({ up: true, addresses: ["203.0.113.130/30"] });
    expect(ip.links.get("vint0")).toMatchObject({
      up: true,
      mtu: 1458,
      mac: "02:00:00:00:00:01",
      addresses: ["198.18.0.1/24"],
    });
    expect(ip.links.get("eth0")).toMatchObject({ up: true, noarp: true, addresses: [] });
    expect(ip.links.get("lo")?.addresses).toEqual([]); // host scope is not ours
    expect(ip.defaultRoutes).toEqual([{ via: "203.0.113.129", dev: "icbond0" }]);
    expect(planIp(desiredKernel(bondConfig, bondFacts), ip)).toEqual([]);
  });

  it("preflight resolves the facts from what it reads", () => {
    const f = preflight(bondConfig, ovs, ip);
    expect(f).toEqual({ ...bondFacts, firstNicMac: ip.links.get("eth0")!.mac });
  });
});

describe("planOvs", () => {
  const root = { op: "mutate", table: "Open_vSwitch", where: [] } as const;
  const named = (n: string) => ["named-uuid", n];
  const byName = (n: string) => [["name", "==", n]];

  it("builds everything in one transaction, as ovs-vsctl's add-br/add-port rows; controllers apart", () => {
    const plan = planOvs(desiredOvs(single(), facts), EMPTY, noUuids);
    expect(plan.ops).toEqual([
      { op: "insert", table: "Interface", row: { name: "eth0" }, "uuid-name": "if0" },
      {
        op: "insert",
        table: "Port",
        row: { name: "eth0", interfaces: ["set", [named("if0")]] },
        "uuid-name": "port1",
      },
      {
        op: "insert",
        table: "Interface",
        row: { name: "icbond0", type: "internal", mtu_request: 1500 },
        "uuid-name": "if2",
      },
      {
        op: "insert",
        table: "Port",
        row: { name: "icbond0", interfaces: ["set", [named("if2")]] },
        "uuid-name": "port3",
      },
      {
        op: "insert",
        table: "Bridge",
        row: {
          name: "icbond0",
          datapath_type: "netdev",
          external_ids: ["map", [["icsdn-vm-init", "c1"]]],
          ports: ["set", [named("port1"), named("port3")]],
        },
        "uuid-name": "br4",
      },
      { ...root, mutations: [["bridges", "insert", ["set", [named("br4")]]]] },
      {
        op: "insert",
        table: "Interface",
        row: {
          name: "enc0",
          type: "vxlan",
          options: [
            "map",
            [
              ["key", "flow"],
              ["remote_ip", "flow"],
            ],
          ],
          ofport_request: 1,
        },
        "uuid-name": "if5",
      },
      {
        op: "insert",
        table: "Port",
        row: { name: "enc0", interfaces: ["set", [named("if5")]] },
        "uuid-name": "port6",
      },
      { op: "insert", table: "Interface", row: { name: "icbr0", type: "internal" }, "uuid-name": "if7" },
      {
        op: "insert",
        table: "Port",
        row: { name: "icbr0", interfaces: ["set", [named("if7")]] },
        "uuid-name": "port8",
      },
      {
        op: "insert",
        table: "Interface",
        row: {
          name: "vint0",
          type: "internal",
          ofport_request: 2,
          mtu_request: 1450,
          mac: "02:1c:c6:12:00:01",
        },
        "uuid-name": "if9",
      },
      {
        op: "insert",
        table: "Port",
        row: { name: "vint0", interfaces: ["set", [named("if9")]] },
        "uuid-name": "port10",
      },
      {
        op: "insert",
        table: "Bridge",
        row: {
          name: "icbr0",
          datapath_type: "netdev",
          protocols: ["set", ["OpenFlow13"]],
          fail_mode: "secure",
          other_config: [
            "map",
            [
              ["datapath-id", "0000002ac6120001"],
              ["disable-in-band", "true"],
            ],
          ],
          external_ids: ["map", [["icsdn-vm-init", "c1"]]],
          ports: ["set", [named("port6"), named("port8"), named("port10")]],
        },
        "uuid-name": "br11",
      },
      { ...root, mutations: [["bridges", "insert", ["set", [named("br11")]]]] },
    ]);
    expect(plan.controllerOps).toEqual([
      {
        op: "insert",
        table: "Controller",
        row: { target: "tcp:203.0.113.1:6653", max_backoff: 1000 },
        "uuid-name": "ctl12",
      },
      // By name: on a fresh machine the bridge was inserted by the transaction before.
      {
        op: "mutate",
        table: "Bridge",
        where: byName("icbr0"),
        mutations: [["controller", "insert", ["set", [named("ctl12")]]]],
      },
    ]);
  });

  it("gives icbond0 the NIC's MAC on the kernel datapath only", () => {
    const sys = desiredOvs(
      single((c) => {
        c.datapath = "system";
      }),
      facts,
    );
    expect(sys.bridges[0]!.otherConfig).toEqual({ hwaddr: "fa:16:3e:00:00:01" });
    expect(desiredOvs(single(), facts).bridges[0]!.otherConfig).toEqual({});
  });

  // Each change to a converged state touches only what changed.
  let ovs: OvsObserved;
  beforeEach(() => {
    ovs = parseMonitor(fixture("ovsdb-monitor-bond.json"));
  });
  const converge = (edit: (c: VmInitConfig) => void, f: UnderlayFacts = bondFacts) => {
    const c = structuredClone(bondConfig);
    edit(c);
    return planOvs(desiredOvs(c, f), ovs.state, ovs.uuids);
  };
  const uuid = (kind: keyof OvsUuids, key: string) => ["uuid", ovs.uuids[kind].get(key)!];

  it("a new controller target: one removal, one creation, nothing else", () => {
    const plan = converge((c) => {
      c.controller.targets = ["tcp:203.0.113.251:6653"];
    });
    expect(plan.ops).toEqual([]);
    expect(plan.controllerOps).toEqual([
      {
        op: "mutate",
        table: "Bridge",
        where: byName("icbr0"),
        mutations: [["controller", "delete", ["set", [uuid("controller", "icbr0 tcp:203.0.113.250:6653")]]]],
      },
      {
        op: "insert",
        table: "Controller",
        row: { target: "tcp:203.0.113.251:6653", max_backoff: 1000 },
        "uuid-name": "ctl0",
      },
      {
        op: "mutate",
        table: "Bridge",
        where: byName("icbr0"),
        mutations: [["controller", "insert", ["set", [named("ctl0")]]]],
      },
    ]);
  });

  it("an added target keeps the existing controller row", () => {
    const plan = converge((c) => {
      c.controller.targets = ["tcp:203.0.113.250:6653", "tcp:203.0.113.251:6653"];
    });
    expect(plan.controllerOps.map((o) => `${o.op} ${"table" in o ? o.table : ""}`)).toEqual([
      "insert Controller",
      "mutate Bridge",
    ]);
  });

  it("a new MTU: two mtu_requests", () => {
    expect(converge(() => {}, { ...bondFacts, mtu: 1400 }).ops).toEqual([
      { op: "update", table: "Interface", where: byName("icbond0"), row: { mtu_request: 1400 } },
      { op: "update", table: "Interface", where: byName("vint0"), row: { mtu_request: 1358 } },
    ]);
  });

  it("another tunnel type and VNI: enc0's type and icbr0's dpid (one map key replaced)", () => {
    expect(
      converge((c) => {
        c.tunnel = "vxlan";
        c.vni = 43;
      }).ops,
    ).toEqual([
      {
        op: "mutate",
        table: "Bridge",
        where: byName("icbr0"),
        mutations: [
          ["other_config", "delete", ["set", ["datapath-id"]]],
          ["other_config", "insert", ["map", [["datapath-id", "0000002bc6120001"]]]],
        ],
      },
      { op: "update", table: "Interface", where: byName("enc0"), row: { type: "vxlan" } },
      { op: "update", table: "Interface", where: byName("vint0"), row: { mtu_request: 1450 } },
    ]);
  });

  it("another bond mode drops LACP and its fallback", () => {
    expect(
      converge((c) => {
        c.underlay.bondMode = "active-backup";
      }).ops,
    ).toEqual([
      {
        op: "update",
        table: "Port",
        where: byName("icbond0-nics"),
        row: { bond_mode: "active-backup", lacp: ["set", []] },
      },
      {
        op: "mutate",
        table: "Port",
        where: byName("icbond0-nics"),
        mutations: [["other_config", "delete", ["set", ["lacp-fallback-ab"]]]],
      },
    ]);
  });

  it("a third NIC joins the bond in place; one NIC turns the bond into a plain port", () => {
    expect(
      converge((c) => {
        c.underlay.nics = ["eth0", "eth1", "eth2"];
      }).ops,
    ).toEqual([
      { op: "insert", table: "Interface", row: { name: "eth2" }, "uuid-name": "if0" },
      {
        op: "mutate",
        table: "Port",
        where: byName("icbond0-nics"),
        mutations: [["interfaces", "insert", ["set", [named("if0")]]]],
      },
    ]);
    expect(
      converge((c) => {
        c.underlay.nics = ["eth1"];
      }).ops,
    ).toEqual([
      {
        op: "mutate",
        table: "Bridge",
        where: byName("icbond0"),
        mutations: [["ports", "delete", ["set", [uuid("port", "icbond0-nics")]]]],
      },
      { op: "insert", table: "Interface", row: { name: "eth1" }, "uuid-name": "if0" },
      {
        op: "insert",
        table: "Port",
        row: { name: "eth1", interfaces: ["set", [named("if0")]] },
        "uuid-name": "port1",
      },
      {
        op: "mutate",
        table: "Bridge",
        where: byName("icbond0"),
        mutations: [["ports", "insert", ["set", [named("port1")]]]],
      },
    ]);
  });

  it("another MAC is written in place; vint0 keeps its row", () => {
    expect(
      converge((c) => {
        c.vint0.mac = "02:1c:c6:12:00:63";
      }).ops,
    ).toEqual([
      { op: "update", table: "Interface", where: byName("vint0"), row: { mac: "02:1c:c6:12:00:63" } },
    ]);
  });

  it("teardown deletes vm-init's bridges and nothing else", () => {
    const withForeign: OvsState = {
      bridges: [...ovs.state.bridges, { ...ovs.state.bridges[0]!, name: "br-ex", externalIds: {} }],
    };
    expect(planOvs(EMPTY, ownBridges(withForeign), ovs.uuids).ops).toEqual([
      { ...root, mutations: [["bridges", "delete", ["set", [uuid("bridge", "icbond0")]]]] },
      { ...root, mutations: [["bridges", "delete", ["set", [uuid("bridge", "icbr0")]]]] },
    ]);
  });

  it("restarting controllers: drop every row, then add them back", () => {
    const want = desiredOvs(bondConfig, bondFacts).bridges[1]!;
    const have = ovs.state.bridges.find((b) => b.name === "icbr0")!;
    expect(planControllerRestart(want, have, ovs.uuids)).toEqual({
      remove: [
        {
          op: "mutate",
          table: "Bridge",
          where: byName("icbr0"),
          mutations: [
            ["controller", "delete", ["set", [uuid("controller", "icbr0 tcp:203.0.113.250:6653")]]],
          ],
        },
      ],
      add: [
        {
          op: "insert",
          table: "Controller",
          row: { target: "tcp:203.0.113.250:6653", max_backoff: 1000 },
          "uuid-name": "ctl0",
        },
        {
          op: "mutate",
          table: "Bridge",
          where: byName("icbr0"),
          mutations: [["controller", "insert", ["set", [named("ctl0")]]]],
        },
      ],
    });
  });
});

describe("planIp", () => {
  const want = desiredKernel(single(), facts);

  it("fresh: NICs quiet, addresses on, links up, then the route", () => {
    expect(planIp(want, kernel([link("eth0")]))).toEqual([
      "link set eth0 arp off",
      "link set icbond0 up",
      "link set vint0 up",
      "addr add 203.0.113.10/24 dev icbond0",
      "addr add 198.18.0.1/24 dev vint0",
      "route replace default via 203.0.113.1 dev icbond0",
    ]);
  });

  it("takeover: the address leaves eth0 first; its route goes by itself and is not deleted again", () => {
    const observed = kernel(
      [link("eth0", { addresses: ["203.0.113.10/24"] })],
      [{ via: "203.0.113.1", dev: "eth0" }],
    );
    const lines = planIp(want, observed);
    expect(lines[0]).toBe("addr del 203.0.113.10/24 dev eth0");
    expect(lines).not.toContain("route del default via 203.0.113.1 dev eth0");
    expect(lines.at(-1)).toBe("route replace default via 203.0.113.1 dev icbond0");
  });

  it("a changed gateway replaces the route on icbond0; foreign default routes stay", () => {
    const observed = kernel(
      [
        link("eth0", { noarp: true }),
        link("icbond0", { addresses: ["203.0.113.10/24"] }),
        link("vint0", { addresses: ["198.18.0.1/24"] }),
      ],
      [
        { via: "203.0.113.254", dev: "icbond0" },
        { via: "10.0.0.1", dev: "mgmt0" },
      ],
    );
    expect(planIp(want, observed)).toEqual([
      "route del default via 203.0.113.254 dev icbond0",
      "route replace default via 203.0.113.1 dev icbond0",
    ]);
  });

  it("rolls back to exactly what was there", () => {
    const before = kernel(
      [link("eth0", { addresses: ["203.0.113.10/24"] })],
      [{ via: "203.0.113.1", dev: "eth0" }],
    );
    const after = kernel([link("eth0", { noarp: true })]);
    expect(planIp(kernelAsBefore(before, ["eth0", "icbond0", "vint0"]), after)).toEqual([
      "link set eth0 arp on",
      "addr add 203.0.113.10/24 dev eth0",
      "route replace default via 203.0.113.1 dev eth0",
    ]);
  });

  it("teardown gives a taken-over address and route back to the first NIC", () => {
    const c = single((c) => {
      c.underlay.address = "takeover";
    });
    const observed = kernel(
      [link("eth0", { noarp: true }), link("icbond0", { addresses: ["203.0.113.10/24"] })],
      [{ via: "203.0.113.1", dev: "icbond0" }],
    );
    expect(planIp(kernelAfterTeardown(c, observed), observed)).toEqual([
      "link set eth0 arp on",
      "addr add 203.0.113.10/24 dev eth0",
      "route replace default via 203.0.113.1 dev eth0",
    ]);
    expect(planIp(kernelAfterTeardown(single(), observed), observed)).toEqual(["link set eth0 arp on"]);
  });
});

describe("preflight", () => {
  const ok = kernel(
    [link("eth0", { addresses: ["203.0.113.10/24"] })],
    [{ via: "203.0.113.1", dev: "eth0" }],
  );
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(VmInitError);
      return `${(err as VmInitError).code}: ${(err as VmInitError).message}`;
    }
    return "accepted";
  };

  it("names a missing NIC by its config field", () => {
    const c = single((c) => {
      c.underlay.nics = ["eth0", "eth7"];
    });
    expect(code(() => preflight(c, emptyOvs(), ok))).toBe(
      'NIC_MISSING: underlay.nics[1]: network interface "eth7" does not exist',
    );
  });

  it("refuses a NIC that belongs to someone else's bridge, and a bridge it did not make", () => {
    const foreign = {
      ...emptyOvs(),
      interfacePort: new Map([["eth0", "eth0"]]),
      portBridge: new Map([["eth0", "br-ex"]]),
    };
    expect(code(() => preflight(single(), foreign, ok))).toMatch(
      /^NIC_IN_USE: underlay\.nics\[0\]: "eth0" .*"br-ex"/,
    );
    const squatter = {
      ...emptyOvs(),
      state: { bridges: [{ ...desiredOvs(single(), facts).bridges[1]!, externalIds: {} }] },
    };
    expect(code(() => preflight(single(), squatter, ok))).toMatch(
      /^BRIDGE_CONFLICT: OVS bridge "icbr0" exists/,
    );
  });

  it("refuses a device squatting on vint0's name", () => {
    expect(code(() => preflight(single(), emptyOvs(), kernel([link("eth0"), link("vint0")])))).toMatch(
      /^BRIDGE_CONFLICT: network device "vint0" exists and is not an Open vSwitch port/,
    );
  });

  it("takes over the NIC's address and gateway, or icbond0's on a second run", () => {
    const c = single((c) => {
      c.underlay.address = "takeover";
      delete c.underlay.gateway;
    });
    expect(preflight(c, emptyOvs(), ok)).toMatchObject({
      address: "203.0.113.10/24",
      gateway: "203.0.113.1",
    });
    const moved = kernel(
      [link("eth0"), link("icbond0", { addresses: ["203.0.113.10/24"] })],
      [{ via: "203.0.113.1", dev: "icbond0" }],
    );
    const ovsWithBond = {
      ...emptyOvs(),
      interfacePort: new Map([["icbond0", "icbond0"]]),
      portBridge: new Map([["icbond0", "icbond0"]]),
    };
    expect(preflight(c, ovsWithBond, moved)).toMatchObject({
      address: "203.0.113.10/24",
      gateway: "203.0.113.1",
    });
    expect(code(() => preflight(c, emptyOvs(), kernel([link("eth0")])))).toMatch(
      /^NO_UNDERLAY_ADDRESS: underlay\.address/,
    );
    expect(
      code(() =>
        preflight(
          c,
          emptyOvs(),
          kernel([link("eth0", { addresses: ["203.0.113.10/24", "203.0.113.11/24"] })]),
        ),
      ),
    ).toMatch(/^AMBIGUOUS_UNDERLAY_ADDRESS: underlay\.address/);
  });

  it("takes the smallest NIC MTU, and refuses an underlay MTU the NICs cannot carry", () => {
    const two = single((c) => {
      c.underlay.nics = ["eth0", "eth1"];
    });
    const k = kernel([link("eth0"), link("eth1", { mtu: 1450 })]);
    expect(preflight(two, emptyOvs(), k).mtu).toBe(1450);
    two.underlay.mtu = 1500;
    expect(code(() => preflight(two, emptyOvs(), k))).toBe(
      'NIC_MTU_TOO_SMALL: underlay.mtu: 1500 is larger than the MTU 1450 of NIC "eth1"',
    );
  });
});

describe("establishedPeers", () => {
  it("reads remote ends of ESTABLISHED sockets in either byte order", () => {
    const text = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 820071CB:B5A0 817100CB:19FD 01 00000000:00000000 00:00000000 00000000     0        0 1 1",
      "   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1",
    ].join("\n");
    expect(establishedPeers(text, true)).toEqual([{ address: "203.0.113.129", port: 6653 }]);
    expect(establishedPeers(text, false)).toEqual([{ address: "129.113.0.203", port: 6653 }]);
  });
});
