import { describe, expect, it } from "vitest";
import { desiredKernel, desiredOvs, type UnderlayFacts } from "../../vm-init/desired.ts";
import { parseConfig, type VmInitConfig } from "../../vm-init/index.ts";
import { kernelFrom, parseIpRead } from "../../vm-init/ip-observed.ts";
import { planIp } from "../../vm-init/ip-plan.ts";
import type { KernelObserved, OvsBridge, OvsObserved, OvsState, OvsUuids } from "../../vm-init/model.ts";
import { observedFrom } from "../../vm-init/ovs-observed.ts";
import { planControllerRestart, planOvs } from "../../vm-init/ovs-plan.ts";
import { applyTableUpdates, type Tables } from "../../vm-init/ovsdb/replica.ts";

// The planners' and readers' edges, where mutation testing found them untested: TLS, what OVSDB
// leaves unset (an absent column stays absent: toStrictEqual), rows a reference names but the
// replica lacks, and the plans for changed bridge columns, controllers and bond members.
// Equivalent mutants, left alive on purpose:
// - an optional column or key written as undefined instead of left out (ovs-plan.ts fail_mode,
//   max_backoff): JSON drops it, the transaction is the same;
// - sameList without sorting `have`: observedFrom sorts the protocols it reads;
// - planControllerRestart's unused `ops` list, ip-plan's `mac` default, ip-observed's defaults
//   for absent flags and addresses (filled with junk, nothing matches "UP" or family "inet"), and
//   sslOf looking up an undefined uuid (no row has the uuid "undefined");
// - planBridgeChanges' `p.name !== want.name`: a desired bridge always lists its own port; a
//   bridge or port deleted without its uuid (`&& id` as true): observedFrom reads both together.

const config = (over: Record<string, unknown> = {}): VmInitConfig =>
  parseConfig({
    clusterId: "c1",
    vni: 42,
    tunnel: "vxlan",
    datapath: "system",
    vint0: { address: "198.18.0.1/24" },
    underlay: { nics: ["eth1", "eth0"], address: "203.0.113.10/24", bondMode: "active-backup" },
    controller: { targets: ["tcp:203.0.113.9:6653", "tcp:203.0.113.1:6653"] },
    ...over,
  });
const facts: UnderlayFacts = { address: "203.0.113.10/24", mtu: 1500, firstNicMac: "fa:16:3e:00:00:01" };
const noUuids = (): OvsUuids => ({
  bridge: new Map(),
  port: new Map(),
  interface: new Map(),
  controller: new Map(),
});

describe("desired state", () => {
  it("sorts the bond's NICs and the controllers, and has no SSL without TLS", () => {
    const ovs = desiredOvs(config(), facts);
    expect(ovs.ssl).toBeUndefined();
    expect(Object.keys(ovs)).toEqual(["bridges"]);
    const [bond, cluster] = ovs.bridges;
    expect(bond?.ports.find((p) => p.name === "icbond0-nics")?.interfaces.map((i) => i.name)).toEqual([
      "eth0",
      "eth1",
    ]);
    expect(cluster?.controllers.map((c) => c.target)).toEqual([
      "tcp:203.0.113.1:6653",
      "tcp:203.0.113.9:6653",
    ]);
    const vint0 = cluster?.ports.find((p) => p.name === "vint0")?.interfaces[0];
    // No MAC in the config: the contract's for this vint0, the same on every instance.
    expect(vint0?.mac).toBe("02:1c:c6:12:00:01");
  });

  it("sets the SSL row from the controller's TLS files", () => {
    const tls = { privateKey: "/k.pem", certificate: "/c.pem", caCertificate: "/ca.pem" };
    const c = config();
    const withTls = { ...c, controller: { ...c.controller, tls } } as VmInitConfig;
    expect(desiredOvs(withTls, facts)).toStrictEqual({
      bridges: desiredOvs(c, facts).bridges,
      ssl: { privateKey: "/k.pem", certificate: "/c.pem", caCert: "/ca.pem" },
    });
  });

  it("puts the kernel side together: NICs quiet, both addresses, the route only with a gateway", () => {
    expect(desiredKernel(config(), facts)).toStrictEqual({
      links: [
        { name: "eth1", up: true, noarp: true, addresses: [] },
        { name: "eth0", up: true, noarp: true, addresses: [] },
        { name: "icbond0", up: true, addresses: ["203.0.113.10/24"] },
        { name: "vint0", up: true, addresses: ["198.18.0.1/24"] },
      ],
      routeDevs: ["icbond0", "eth1", "eth0"],
    });
    expect(desiredKernel(config(), { ...facts, gateway: "203.0.113.1" }).defaultRoute).toEqual({
      via: "203.0.113.1",
      dev: "icbond0",
    });
  });
});

describe("reading ip's JSON", () => {
  it("takes the two documents whatever the indentation, and refuses any other count", () => {
    const out = '  [{"ifname":"eth0"}]  \n\n  [{"dst":"default","gateway":"10.0.0.1","dev":"eth0"}]\n';
    expect(parseIpRead(out).defaultRoutes).toEqual([{ via: "10.0.0.1", dev: "eth0" }]);
    expect(() => parseIpRead("[]\n")).toThrow("expected 2 JSON documents from ip -batch, got 1");
    expect(() => parseIpRead("[]\n[]\n[]\n")).toThrow("got 3");
  });

  it("refuses anything but two arrays", () => {
    for (const [a, r] of [
      ["{}", "[]"],
      ["[]", "{}"],
    ])
      expect(() => kernelFrom(a!, r!)).toThrow("ip -j printed something other than arrays");
  });

  it("keeps global IPv4 addresses and complete default routes only, with defaults for what ip leaves out", () => {
    const addrs = JSON.stringify([
      { flags: ["UP"] },
      { ifname: "bare" },
      {
        ifname: "eth0",
        flags: ["UP", "NOARP"],
        mtu: 9000,
        address: "02:00:00:00:00:01",
        addr_info: [
          { family: "inet", local: "10.0.0.2", prefixlen: 24, scope: "global" },
          { family: "inet", local: "10.0.0.3", scope: "global" },
          { family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" },
          { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "global" },
          { family: "inet", prefixlen: 24, scope: "global" },
        ],
      },
    ]);
    const routes = JSON.stringify([
      { dst: "default", gateway: "10.0.0.1", dev: "eth0" },
      { dst: "10.0.0.0/24", gateway: "10.0.0.1", dev: "eth0" },
      { dst: "default", dev: "eth0" },
      { dst: "default", gateway: "10.0.0.9" },
    ]);
    const k = kernelFrom(addrs, routes);
    expect([...k.links.keys()]).toEqual(["bare", "eth0"]);
    expect(k.links.get("bare")).toStrictEqual({
      name: "bare",
      up: false,
      noarp: false,
      mtu: 0,
      mac: "",
      addresses: [],
    });
    expect(k.links.get("eth0")).toStrictEqual({
      name: "eth0",
      up: true,
      noarp: true,
      mtu: 9000,
      mac: "02:00:00:00:00:01",
      addresses: ["10.0.0.2/24", "10.0.0.3/32"],
    });
    expect(k.defaultRoutes).toEqual([{ via: "10.0.0.1", dev: "eth0" }]);
  });
});

describe("planning ip", () => {
  const kernel = (links: KernelObserved["links"], defaultRoutes: KernelObserved["defaultRoutes"] = []) => ({
    links,
    defaultRoutes,
  });

  it("turns ARP off on a device it has never seen, and brings it up", () => {
    expect(
      planIp(
        { links: [{ name: "eth0", up: true, noarp: true, addresses: [] }], routeDevs: [] },
        kernel(new Map()),
      ),
    ).toEqual(["link set eth0 arp off", "link set eth0 up"]);
    expect(planIp({ links: [{ name: "eth0", up: false }], routeDevs: [] }, kernel(new Map()))).toEqual([]);
    const up = new Map([
      ["eth0", { name: "eth0", up: true, noarp: true, mtu: 1500, mac: "m", addresses: [] }],
    ]);
    expect(planIp({ links: [{ name: "eth0", up: false, noarp: false }], routeDevs: [] }, kernel(up))).toEqual(
      ["link set eth0 arp on", "link set eth0 down"],
    );
  });

  it("deletes a route on a device that keeps some of its addresses", () => {
    const have = new Map([
      [
        "eth0",
        {
          name: "eth0",
          up: true,
          noarp: false,
          mtu: 1500,
          mac: "m",
          addresses: ["10.0.0.2/24", "10.0.0.3/24"],
        },
      ],
    ]);
    expect(
      planIp(
        { links: [{ name: "eth0", addresses: ["10.0.0.2/24"] }], routeDevs: ["eth0"] },
        kernel(have, [{ via: "10.0.0.1", dev: "eth0" }]),
      ),
    ).toEqual(["route del default via 10.0.0.1 dev eth0", "addr del 10.0.0.3/24 dev eth0"]);
  });

  it("a device without addresses keeps its route (nothing flushes it) and so it is deleted", () => {
    const have = new Map([
      ["eth0", { name: "eth0", up: true, noarp: false, mtu: 1500, mac: "m", addresses: [] }],
    ]);
    expect(
      planIp(
        { links: [{ name: "eth0", addresses: [] }], routeDevs: ["eth0"] },
        kernel(have, [{ via: "10.0.0.1", dev: "eth0" }]),
      ),
    ).toEqual(["route del default via 10.0.0.1 dev eth0"]);
  });
});

/** OVSDB's notation, for hand-built monitor rows. */
const S = (...v: unknown[]) => ["set", v];
const M = (o: Record<string, string>) => ["map", Object.entries(o)];
const U = (id: string) => ["uuid", id];

function tables(): Tables {
  const t: Tables = new Map();
  applyTableUpdates(t, {
    Open_vSwitch: { root: { new: { bridges: S(U("b1"), U("b2")), ssl: U("s2") } } },
    SSL: {
      s1: { new: { private_key: "/old.pem", certificate: "/old.pem", ca_cert: "/old.pem" } },
      s2: { new: { private_key: "/k.pem", certificate: "/c.pem", ca_cert: S() } },
    },
    Bridge: {
      b2: {
        new: {
          name: "icbr0",
          datapath_type: "netdev",
          protocols: S("OpenFlow13", "OpenFlow10"),
          fail_mode: "secure",
          other_config: M({ "disable-in-band": "true" }),
          external_ids: M({ "icsdn-cluster": "c1" }),
          controller: S(U("c1"), U("c2"), U("gone")),
          ports: S(U("p2"), U("p1"), U("gone")),
          datapath_id: "0000002ac6120001",
        },
      },
      b1: {
        new: {
          name: "icbond0",
          datapath_type: "system",
          protocols: S(),
          fail_mode: S(),
          other_config: M({}),
          external_ids: M({}),
          controller: S(),
          ports: S(U("p3")),
          datapath_id: S(),
        },
      },
    },
    Port: {
      p1: { new: { name: "vint0", interfaces: S(U("i1")), bond_mode: S(), lacp: S(), other_config: M({}) } },
      p2: { new: { name: "enc0", interfaces: U("i2"), bond_mode: S(), lacp: S(), other_config: M({}) } },
      p3: {
        new: {
          name: "icbond0-nics",
          interfaces: S(U("i4"), U("i3"), U("gone")),
          bond_mode: "balance-tcp",
          lacp: "active",
          other_config: M({ "lacp-fallback-ab": "true" }),
        },
      },
    },
    Interface: {
      i1: {
        new: {
          name: "vint0",
          type: "internal",
          options: M({}),
          ofport: 2,
          ofport_request: 2,
          mtu: 1450,
          mtu_request: 1450,
          mac: "02:00:00:00:00:01",
          mac_in_use: "02:00:00:00:00:01",
          error: S(),
          link_state: "up",
          admin_state: "up",
        },
      },
      i2: {
        new: {
          name: "enc0",
          type: "vxlan",
          options: M({ key: "flow", remote_ip: "flow" }),
          ofport: S(),
          ofport_request: S(),
          mtu: S(),
          mtu_request: S(),
          mac: S(),
          mac_in_use: S(),
          error: "could not add network device enc0",
          link_state: S(),
          admin_state: S(),
        },
      },
      i3: { new: { name: "eth0", type: "", options: M({}) } },
      i4: { new: { name: "eth1", type: "", options: M({}) } },
    },
    Controller: {
      c1: { new: { target: "tcp:b", is_connected: true, status: M({ state: "ACTIVE" }), max_backoff: 8000 } },
      c2: { new: { target: "tcp:a", is_connected: false, status: M({}), max_backoff: S() } },
    },
  });
  return t;
}

describe("reading OVSDB", () => {
  it("builds the state sorted, with only the columns OVS has set, skipping rows the replica lacks", () => {
    const o = observedFrom(tables());
    expect(o.state).toStrictEqual({
      bridges: [
        {
          name: "icbond0",
          datapathType: "system",
          protocols: [],
          otherConfig: {},
          externalIds: {},
          controllers: [],
          ports: [
            {
              name: "icbond0-nics",
              interfaces: [
                { name: "eth0", type: "", options: {} },
                { name: "eth1", type: "", options: {} },
              ],
              otherConfig: { "lacp-fallback-ab": "true" },
              bondMode: "balance-tcp",
              lacp: "active",
            },
          ],
        },
        {
          name: "icbr0",
          datapathType: "netdev",
          protocols: ["OpenFlow10", "OpenFlow13"],
          otherConfig: { "disable-in-band": "true" },
          externalIds: { "icsdn-cluster": "c1" },
          controllers: [{ target: "tcp:a" }, { target: "tcp:b", maxBackoff: 8000 }],
          ports: [
            {
              name: "enc0",
              interfaces: [{ name: "enc0", type: "vxlan", options: { key: "flow", remote_ip: "flow" } }],
              otherConfig: {},
            },
            {
              name: "vint0",
              interfaces: [
                {
                  name: "vint0",
                  type: "internal",
                  options: {},
                  ofportRequest: 2,
                  mtuRequest: 1450,
                  mac: "02:00:00:00:00:01",
                },
              ],
              otherConfig: {},
            },
          ],
          failMode: "secure",
        },
      ],
      ssl: { privateKey: "/k.pem", certificate: "/c.pem", caCert: "" },
    });
    expect([...o.interfaces.values()]).toStrictEqual([
      {
        name: "vint0",
        ofport: 2,
        mtu: 1450,
        macInUse: "02:00:00:00:00:01",
        linkState: "up",
        adminState: "up",
      },
      { name: "enc0", error: "could not add network device enc0" },
      { name: "eth0" },
      { name: "eth1" },
    ]);
    expect(o.controllers).toStrictEqual([
      { bridge: "icbr0", target: "tcp:b", uuid: "c1", isConnected: true, state: "ACTIVE" },
      { bridge: "icbr0", target: "tcp:a", uuid: "c2", isConnected: false },
    ]);
    expect([...o.datapathIds]).toEqual([["icbr0", "0000002ac6120001"]]);
    expect(o.uuids.interface.get("eth1")).toBe("i4");
    expect(o.uuids.controller.get("icbr0 tcp:b")).toBe("c1");
    expect(o.interfacePort.get("eth0")).toBe("icbond0-nics");
  });

  it("has no SSL when the root names none, or one the replica lacks", () => {
    const t = tables();
    applyTableUpdates(t, { Open_vSwitch: { root: { new: { ssl: S() } } } });
    expect(Object.keys(observedFrom(t).state)).toEqual(["bridges"]);
    applyTableUpdates(t, { Open_vSwitch: { root: { new: { ssl: U("s9") } } } });
    expect(observedFrom(t).state.ssl).toBeUndefined();
    expect(observedFrom(new Map()).state).toStrictEqual({ bridges: [] });
  });
});

/** The uuids with one row's left out, as when the replica lacks it. */
function without(uuids: OvsUuids, kind: keyof OvsUuids, name: string): OvsUuids {
  const copy = new Map(uuids[kind]);
  copy.delete(name);
  return { ...uuids, [kind]: copy };
}

describe("planning OVS", () => {
  const observed = (): OvsObserved => observedFrom(tables());
  const icbr0 = (o = observed()) => o.state.bridges.find((b) => b.name === "icbr0")!;

  it("writes SSL only when it differs from the row OVS holds, as a new row the root points at", () => {
    const o = observed();
    const same = {
      bridges: o.state.bridges,
      ssl: { privateKey: "/k.pem", certificate: "/c.pem", caCert: "" },
    };
    expect(planOvs(same, o.state, o.uuids).ops).toEqual([]);
    for (const ssl of [
      { privateKey: "/x.pem", certificate: "/c.pem", caCert: "" },
      { privateKey: "/k.pem", certificate: "/x.pem", caCert: "" },
      { privateKey: "/k.pem", certificate: "/c.pem", caCert: "/ca.pem" },
    ]) {
      const ops = planOvs({ bridges: o.state.bridges, ssl }, o.state, o.uuids).ops;
      expect(ops).toEqual([
        {
          op: "insert",
          table: "SSL",
          row: { private_key: ssl.privateKey, certificate: ssl.certificate, ca_cert: ssl.caCert },
          "uuid-name": "ssl0",
        },
        { op: "update", table: "Open_vSwitch", where: [], row: { ssl: ["named-uuid", "ssl0"] } },
      ]);
    }
    const noSsl: OvsState = { bridges: o.state.bridges };
    expect(planOvs({ ...noSsl, ssl: same.ssl }, noSsl, o.uuids).ops).toHaveLength(2);
  });

  it("updates changed bridge columns in one row; clears a fail mode no longer wanted", () => {
    const have = icbr0();
    const want: OvsBridge = { ...have, datapathType: "system", protocols: ["OpenFlow13"] };
    delete want.failMode;
    const o = observed();
    const ops = planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids).ops;
    expect(ops).toEqual([
      {
        op: "update",
        table: "Bridge",
        where: [["name", "==", "icbr0"]],
        row: { datapath_type: "system", protocols: ["set", ["OpenFlow13"]], fail_mode: ["set", []] },
      },
    ]);
    const reordered = { ...have, protocols: ["OpenFlow13", "OpenFlow10"] };
    expect(planOvs({ bridges: [o.state.bridges[0]!, reordered] }, o.state, o.uuids).ops).toEqual([]);
    const shorter = { ...have, protocols: ["OpenFlow10"] };
    expect(planOvs({ bridges: [o.state.bridges[0]!, shorter] }, o.state, o.uuids).ops).toHaveLength(1);
    const other = { ...have, protocols: ["OpenFlow13", "OpenFlow14"] };
    expect(planOvs({ bridges: [o.state.bridges[0]!, other] }, o.state, o.uuids).ops).toHaveLength(1);
    const longer = { ...have, protocols: ["OpenFlow10", "OpenFlow13", "OpenFlow14"] };
    expect(planOvs({ bridges: [o.state.bridges[0]!, longer] }, o.state, o.uuids).ops).toHaveLength(1);
  });

  it("rewrites an interface's options when one of its keys goes; changes external ids by mutation", () => {
    const o = observed();
    const have = icbr0(o);
    const enc0 = have.ports.find((p) => p.name === "enc0")!;
    const want = {
      ...have,
      externalIds: { "icsdn-cluster": "c2" },
      ports: have.ports.map((p) =>
        p === enc0 ? { ...p, interfaces: [{ ...p.interfaces[0]!, options: { key: "flow" } }] } : p,
      ),
    };
    expect(planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids).ops).toEqual([
      {
        op: "mutate",
        table: "Bridge",
        where: [["name", "==", "icbr0"]],
        mutations: [
          ["external_ids", "delete", ["set", ["icsdn-cluster"]]],
          ["external_ids", "insert", ["map", [["icsdn-cluster", "c2"]]]],
        ],
      },
      {
        op: "update",
        table: "Interface",
        where: [["name", "==", "enc0"]],
        row: { options: ["map", [["key", "flow"]]] },
      },
    ]);
  });

  it("rewrites options whose value changed under the same keys", () => {
    const o = observed();
    const have = icbr0(o);
    const want = {
      ...have,
      ports: have.ports.map((p) =>
        p.name === "enc0"
          ? { ...p, interfaces: [{ ...p.interfaces[0]!, options: { key: "flow", remote_ip: "192.0.2.1" } }] }
          : p,
      ),
    };
    expect(planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids).ops).toHaveLength(1);
  });

  it("a new LACP bond gets its fallback to active-backup when it is inserted", () => {
    const c = config({
      underlay: { nics: ["eth0", "eth1"], address: "203.0.113.10/24", bondMode: "balance-tcp" },
    });
    const ports = planOvs(desiredOvs(c, facts), { bridges: [] }, noUuids()).ops.filter(
      (op) => op.op === "insert" && op.table === "Port",
    );
    expect(ports.find((p) => p.op === "insert" && p.row.name === "icbond0-nics")).toMatchObject({
      row: {
        bond_mode: "balance-tcp",
        lacp: "active",
        other_config: ["map", [["lacp-fallback-ab", "true"]]],
      },
    });
  });

  it("changes a controller's backoff in place, and adds a target with or without a backoff", () => {
    const o = observed();
    const want = {
      ...icbr0(o),
      controllers: [
        { target: "tcp:a", maxBackoff: 1000 },
        { target: "tcp:b", maxBackoff: 8000 },
        { target: "tcp:c" },
      ],
    };
    const plan = planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids);
    expect(plan.ops).toEqual([]);
    expect(plan.controllerOps).toEqual([
      {
        op: "update",
        table: "Controller",
        where: [["_uuid", "==", ["uuid", "c2"]]],
        row: { max_backoff: 1000 },
      },
      { op: "insert", table: "Controller", row: { target: "tcp:c" }, "uuid-name": "ctl0" },
      {
        op: "mutate",
        table: "Bridge",
        where: [["name", "==", "icbr0"]],
        mutations: [["controller", "insert", ["set", [["named-uuid", "ctl0"]]]]],
      },
    ]);
  });

  it("leaves a controller it has no uuid for alone", () => {
    const o = observed();
    o.uuids = without(o.uuids, "controller", "icbr0 tcp:a");
    const want = { ...icbr0(o), controllers: [{ target: "tcp:b", maxBackoff: 8000 }] };
    expect(planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids).controllerOps).toEqual([]);
  });

  it("removes a NIC from a bond in place, and keeps a bond member it has no uuid for", () => {
    const o = observed();
    const bond = o.state.bridges[0]!;
    const nics = bond.ports[0]!;
    const want = { ...bond, ports: [{ ...nics, interfaces: [nics.interfaces[0]!] }] };
    expect(planOvs({ bridges: [want, icbr0(o)] }, o.state, o.uuids).ops).toEqual([
      {
        op: "mutate",
        table: "Port",
        where: [["name", "==", "icbond0-nics"]],
        mutations: [["interfaces", "delete", ["set", [["uuid", "i4"]]]]],
      },
    ]);
    o.uuids = without(o.uuids, "interface", "eth1");
    expect(planOvs({ bridges: [want, icbr0(o)] }, o.state, o.uuids).ops).toEqual([]);
  });

  it("keeps a port it has no uuid for, and only deletes managed bridges it knows", () => {
    const o = observed();
    const want = { ...icbr0(o), ports: icbr0(o).ports.filter((p) => p.name !== "enc0") };
    o.uuids = without(o.uuids, "port", "enc0");
    expect(planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids).ops).toEqual([]);
    o.uuids = without(o.uuids, "bridge", "icbond0");
    expect(planOvs({ bridges: [icbr0(o)] }, o.state, o.uuids).ops).toEqual([]);
  });

  it("a new bridge without external ids or a fail mode names no such columns", () => {
    const bare: OvsBridge = {
      name: "icbr0",
      datapathType: "system",
      protocols: [],
      otherConfig: {},
      externalIds: {},
      controllers: [{ target: "tcp:x" }],
      ports: [],
    };
    const plan = planOvs({ bridges: [bare] }, { bridges: [] }, noUuids());
    expect(plan.ops[0]).toEqual({
      op: "insert",
      table: "Bridge",
      row: { name: "icbr0", datapath_type: "system", ports: ["set", []] },
      "uuid-name": "br0",
    });
    expect(plan.controllerOps[0]).toEqual({
      op: "insert",
      table: "Controller",
      row: { target: "tcp:x" },
      "uuid-name": "ctl1",
    });
  });

  it("replaces a changed owned map key: deletes the old value first, never a key it does not hold", () => {
    const o = observed();
    const want = {
      ...icbr0(o),
      otherConfig: { "disable-in-band": "false", "datapath-id": "00000000000000aa" },
    };
    expect(planOvs({ bridges: [o.state.bridges[0]!, want] }, o.state, o.uuids).ops).toEqual([
      {
        op: "mutate",
        table: "Bridge",
        where: [["name", "==", "icbr0"]],
        mutations: [
          ["other_config", "delete", ["set", ["disable-in-band"]]],
          [
            "other_config",
            "insert",
            [
              "map",
              [
                ["disable-in-band", "false"],
                ["datapath-id", "00000000000000aa"],
              ],
            ],
          ],
        ],
      },
    ]);
  });

  it("restarts controllers: removes only rows it knows, adds every wanted one", () => {
    const o = observed();
    o.uuids = without(o.uuids, "controller", "icbr0 tcp:a");
    const restart = planControllerRestart(icbr0(o), icbr0(o), o.uuids);
    expect(restart.remove).toEqual([
      {
        op: "mutate",
        table: "Bridge",
        where: [["name", "==", "icbr0"]],
        mutations: [["controller", "delete", ["set", [["uuid", "c1"]]]]],
      },
    ]);
    expect(restart.add.filter((op) => op.op === "insert")).toHaveLength(2);
    const none = planControllerRestart(
      { ...icbr0(o), controllers: [] },
      { ...icbr0(o), controllers: [] },
      o.uuids,
    );
    expect(none).toEqual({ remove: [], add: [] });
  });
});
