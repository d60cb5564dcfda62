/** apply / teardown / status against a real Open vSwitch in a real network namespace. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor, formatDpid, vint0MacFor } from "../../contract/dataplane/index.ts";
import {
  apply,
  loadConfigFile,
  status,
  teardown,
  type VmInitConfigInput,
  VmInitError,
} from "../../vm-init/index.ts";
import { cli, configFor, get, kernelSnapshot, links, ovsSnapshot, targetOf, v4 } from "./helpers.ts";
import { createSandbox, destroyAllSandboxes, type OvsSandbox } from "./ovs-sandbox.ts";

afterEach(destroyAllSandboxes);

async function expectRefused(p: Promise<unknown>, code: string, message: RegExp): Promise<VmInitError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VmInitError);
  const e = err as VmInitError;
  expect(`${e.code}: ${e.message}`).toMatch(new RegExp(`^${code}: `));
  expect(e.message).toMatch(message);
  expect(e.rollbackError).toBeUndefined();
  return e;
}

describe("apply", () => {
  it("builds DESIGN.md's layering: bridges, ports, addresses, MTU, dpid", async () => {
    const sb = await createSandbox();
    const config = configFor(sb);
    const r = await apply(config, targetOf(sb));
    const host = sb.host!;

    expect((await sb.vsctl("list-br")).split("\n")).toEqual(["icbond0", "icbr0"]);
    expect((await sb.vsctl("list-ports", "icbond0")).split("\n")).toEqual(["eth0"]);
    expect((await sb.vsctl("list-ports", "icbr0")).split("\n")).toEqual(["enc0", "vint0"]);
    for (const br of ["icbond0", "icbr0"]) {
      expect(await get(sb, "Bridge", br, "datapath_type")).toBe("netdev");
      expect(await get(sb, "Bridge", br, "external_ids:icsdn-vm-init")).toBe("test");
    }
    expect(await get(sb, "Bridge", "icbr0", "protocols")).toBe("[OpenFlow13]");
    expect(await get(sb, "Bridge", "icbr0", "fail_mode")).toBe("secure");
    expect(await get(sb, "Bridge", "icbr0", "other_config:disable-in-band")).toBe("true");
    const dpid = formatDpid(datapathIdFor(42, "198.18.0.1"));
    expect(dpid).toBe("0000002ac6120001");
    expect(await get(sb, "Bridge", "icbr0", "datapath_id")).toBe(dpid);
    expect(await get(sb, "Interface", "enc0", "type")).toBe("vxlan");
    expect(await get(sb, "Interface", "enc0", "options")).toBe("{key=flow, remote_ip=flow}");
    expect(await get(sb, "Interface", "enc0", "ofport")).toBe("1");
    expect(await get(sb, "Interface", "vint0", "ofport")).toBe("2");
    expect(await get(sb, "Interface", "vint0", "mtu")).toBe("1450");
    // enc0 and vint0 as OpenFlow sees them, for the controller's flows.
    const show = await sb.ofctl("-O", "OpenFlow13", "show", "icbr0");
    expect(show).toMatch(/ 1\(enc0\): /);
    expect(show).toMatch(/ 2\(vint0\): addr:02:00:c6:12:00:01/);

    const l = await links(sb);
    expect(v4(l.get("icbond0"))).toEqual([host.vmCidr]);
    expect(l.get("icbond0")?.flags).toContain("UP");
    expect(v4(l.get("vint0"))).toEqual(["198.18.0.1/24"]);
    expect(l.get("vint0")).toMatchObject({ mtu: 1450, address: "02:00:c6:12:00:01" });
    expect(l.get("vint0")?.flags).toContain("UP");
    expect(v4(l.get("eth0"))).toEqual([]);
    expect(l.get("eth0")?.flags).toContain("NOARP");
    expect(await sb.ip("route", "show", "default")).toBe(`default via ${host.hostAddress} dev icbond0 `);
    // The underlay works: the host answers through icbond0 and OVS's userspace datapath.
    await sb.exec("ping", ["-c", "1", "-W", "2", host.hostAddress]);

    expect(r).toMatchObject({
      changed: true,
      controllerConnected: false,
      linkingMs: null,
      datapathId: dpid,
      underlay: { address: host.vmCidr, gateway: host.hostAddress, mtu: 1500 },
      vint0: { address: "198.18.0.1/24", mtu: 1450 },
      changes: { ovsTransactions: 1, controllerRestart: false },
    });
    expect(r.configuredMs).toBeGreaterThan(0);
  });

  it("a second apply of the same config changes nothing: same rows, same devices, no flaps", async () => {
    const sb = await createSandbox();
    const config = configFor(sb, (c) => {
      c.controller = { targets: ["tcp:203.0.113.1:6653"], connectTimeoutMs: 0 };
    });
    await apply(config, targetOf(sb));
    const ovsBefore = await ovsSnapshot(sb);
    const kernelBefore = await kernelSnapshot(sb);
    const r = await apply(config, targetOf(sb));
    expect(r.changed).toBe(false);
    expect(r.changes).toEqual({
      ovsCommands: 0,
      ipCommands: 0,
      ethtoolCommands: 0,
      ovsTransactions: 0,
      controllerRestart: false,
    });
    expect(r.spawns).toBe(1); // one ip process, which only read; OVSDB is a socket, not a process
    expect(await ovsSnapshot(sb)).toBe(ovsBefore); // _uuids, ofports, link_resets included
    expect(await kernelSnapshot(sb)).toBe(kernelBefore); // ifindexes, flags, addresses, routes
  });

  it("a changed config converges with the fewest changes, keeping the rows it does not change", async () => {
    const sb = await createSandbox();
    const target = targetOf(sb);
    await apply(
      configFor(sb, (c) => {
        c.controller = { targets: ["tcp:203.0.113.1:6653"], connectTimeoutMs: 0 };
      }),
      target,
    );
    const uuid = (table: string, rec: string) => get(sb, table, rec, "_uuid");
    const before = {
      icbr0: await uuid("Bridge", "icbr0"),
      icbond0: await uuid("Bridge", "icbond0"),
      enc0: await uuid("Interface", "enc0"),
      vint0: await uuid("Interface", "vint0"),
      vint0Port: await uuid("Port", "vint0"),
      vint0Index: (await links(sb)).get("vint0")!.ifindex,
    };

    const r = await apply(
      configFor(sb, (c) => {
        c.controller = { targets: ["tcp:203.0.113.2:6653"], connectTimeoutMs: 0 };
        c.underlay.mtu = 1400;
      }),
      target,
    );
    // New target (remove + create + add) and two mtu_requests; no kernel change at all.
    expect(r.changes).toMatchObject({ ovsCommands: 5, ipCommands: 0, ovsTransactions: 1 });
    expect(await sb.vsctl("get-controller", "icbr0")).toBe("tcp:203.0.113.2:6653");
    expect(await get(sb, "Interface", "vint0", "mtu")).toBe("1350");
    expect((await links(sb)).get("vint0")!.mtu).toBe(1350);

    const r2 = await apply(
      configFor(sb, (c) => {
        c.controller = { targets: ["tcp:203.0.113.2:6653"], connectTimeoutMs: 0 };
        c.underlay.mtu = 1400;
        c.tunnel = "gre";
      }),
      target,
    );
    expect(r2.changes).toMatchObject({ ovsCommands: 2, ipCommands: 0 });
    expect(await get(sb, "Interface", "enc0", "type")).toBe("gre");
    expect(await get(sb, "Interface", "vint0", "mtu_request")).toBe("1358");
    expect((await links(sb)).get("vint0")!.mtu).toBe(1358);

    expect({
      icbr0: await uuid("Bridge", "icbr0"),
      icbond0: await uuid("Bridge", "icbond0"),
      enc0: await uuid("Interface", "enc0"),
      vint0: await uuid("Interface", "vint0"),
      vint0Port: await uuid("Port", "vint0"),
      vint0Index: (await links(sb)).get("vint0")!.ifindex,
    }).toEqual(before);
    expect(await get(sb, "Interface", "enc0", "ofport")).toBe("1");
  });

  it("converges a new underlay address and gateway in the kernel only", async () => {
    const sb = await createSandbox();
    await apply(configFor(sb), targetOf(sb));
    const ovsBefore = await ovsSnapshot(sb);
    const r = await apply(
      configFor(sb, (c) => {
        c.underlay.address = "203.0.113.99/24";
        c.underlay.gateway = "203.0.113.98";
      }),
      targetOf(sb),
    );
    expect(r.changes).toMatchObject({ ovsCommands: 0, ipCommands: 3 });
    expect(v4((await links(sb)).get("icbond0"))).toEqual(["203.0.113.99/24"]);
    expect(await sb.ip("route", "show", "default")).toBe("default via 203.0.113.98 dev icbond0 ");
    expect(await ovsSnapshot(sb)).toBe(ovsBefore);
  });

  it("bonds two NICs, converges to one, and back", async () => {
    const sb = await createSandbox({ nics: ["eth0", "eth1"] });
    const target = targetOf(sb);
    await apply(
      configFor(sb, (c) => {
        c.underlay.nics = ["eth0", "eth1"];
        c.underlay.bondMode = "balance-slb";
      }),
      target,
    );
    expect(await sb.vsctl("list-ports", "icbond0")).toBe("icbond0-nics");
    expect(await get(sb, "Port", "icbond0-nics", "bond_mode")).toBe("balance-slb");
    expect(
      (await sb.exec("ovs-appctl", ["-t", join(sb.dir, "ovs-vswitchd.ctl"), "bond/show"])).stdout,
    ).toMatch(/member eth0: enabled[\s\S]*member eth1: enabled/);
    for (const nic of ["eth0", "eth1"]) expect((await links(sb)).get(nic)?.flags).toContain("NOARP");
    await sb.exec("ping", ["-c", "1", "-W", "2", sb.host!.hostAddress]);

    await apply(
      configFor(sb, (c) => {
        c.underlay.nics = ["eth0", "eth1"];
        c.underlay.bondMode = "balance-tcp";
      }),
      target,
    );
    // balance-tcp needs LACP; without a partner (a cloud) OVS falls back to active-backup. Not
    // pinged here: on this test's host bridge the bond hears its own LACPDUs and disables itself.
    expect(await get(sb, "Port", "icbond0-nics", "lacp")).toBe("active");
    expect(await get(sb, "Port", "icbond0-nics", "other_config:lacp-fallback-ab")).toBe("true");

    await apply(configFor(sb), target);
    expect(await sb.vsctl("list-ports", "icbond0")).toBe("eth0");
    await sb.exec("ping", ["-c", "1", "-W", "2", sb.host!.hostAddress]);
  });

  it("every instance of a member gets the same vint0 MAC, the contract's, when the config names none", async () => {
    // A moved member's new instance boots with the same config: its peers' ARP caches hold the
    // MAC the old instance had, and vint0's kernel drops frames addressed to any other MAC.
    const [old, moved] = [await createSandbox(), await createSandbox()];
    const macs: string[] = [];
    for (const sb of [old, moved]) {
      const config = configFor(sb, (c) => {
        delete c.vint0.mac;
      });
      expect(config.vint0.mac).toBe(vint0MacFor("198.18.0.1"));
      await apply(config, targetOf(sb));
      const mac = (await links(sb)).get("vint0")?.address;
      expect(await sb.ofctl("-O", "OpenFlow13", "show", "icbr0")).toMatch(
        new RegExp(` 2\\(vint0\\): addr:${mac}`),
      );
      macs.push(mac ?? "");
      // A reboot re-creates vint0 (a new device, as OVS's netdev taps are): still the same MAC.
      await teardown(config, targetOf(sb));
      await apply(config, targetOf(sb));
      expect((await links(sb)).get("vint0")?.address).toBe(mac);
    }
    expect(macs).toEqual(["02:1c:c6:12:00:01", "02:1c:c6:12:00:01"]);
  });

  it("takeover moves the NIC's address and default route to icbond0; teardown moves them back", async () => {
    const sb = await createSandbox();
    const host = sb.host!;
    await sb.ip("addr", "add", host.vmCidr, "dev", "eth0");
    await sb.ip("route", "add", "default", "via", host.hostAddress, "dev", "eth0");
    const config = configFor(sb, (c) => {
      c.underlay.address = "takeover";
      delete c.underlay.gateway;
    });
    const r = await apply(config, targetOf(sb));
    expect(r.underlay).toEqual({ address: host.vmCidr, gateway: host.hostAddress, mtu: 1500 });
    let l = await links(sb);
    expect(v4(l.get("eth0"))).toEqual([]);
    expect(v4(l.get("icbond0"))).toEqual([host.vmCidr]);
    expect(await sb.ip("route", "show", "default")).toBe(`default via ${host.hostAddress} dev icbond0 `);
    await sb.exec("ping", ["-c", "1", "-W", "2", host.hostAddress]);
    // Applying again finds the address on icbond0 and changes nothing.
    expect((await apply(config, targetOf(sb))).changed).toBe(false);

    await teardown(config, targetOf(sb));
    l = await links(sb);
    expect(v4(l.get("eth0"))).toEqual([host.vmCidr]);
    expect(l.get("eth0")?.flags).not.toContain("NOARP");
    expect(await sb.ip("route", "show", "default")).toBe(`default via ${host.hostAddress} dev eth0 `);
  });
});

describe("teardown", () => {
  it("removes what apply built and leaves other bridges and devices alone", async () => {
    const sb = await createSandbox({ nics: ["eth0", "eth1"] });
    await sb.vsctl("add-br", "br-other", "--", "set", "bridge", "br-other", "datapath_type=netdev");
    await sb.vsctl("add-port", "br-other", "eth1");
    const config = configFor(sb, (c) => {
      c.controller = { targets: ["tcp:203.0.113.1:6653"], connectTimeoutMs: 0 };
    });
    await apply(config, targetOf(sb));
    const r = await teardown(config, targetOf(sb));
    expect(r).toMatchObject({ changed: true, removedBridges: ["icbond0", "icbr0"], skippedBridges: [] });

    expect(await sb.vsctl("list-br")).toBe("br-other");
    expect(await sb.vsctl("list-ports", "br-other")).toBe("eth1");
    expect(await sb.vsctl("--columns=_uuid", "list", "Controller")).toBe("");
    const l = await links(sb);
    for (const name of ["icbond0", "icbr0", "vint0", "enc0"]) expect(l.has(name)).toBe(false);
    expect(l.get("eth0")?.flags).not.toContain("NOARP");
    expect(await sb.ip("route", "show", "default")).toBe("");
    // Nothing left to do the second time.
    expect((await teardown(config, targetOf(sb))).changed).toBe(false);
  });
});

describe("refusals change nothing", () => {
  // Config files that fail validation (each error names its field) or preflight on this machine.
  const cases: [string, (c: VmInitConfigInput) => void, string, RegExp][] = [
    [
      "a bad NIC name",
      (c) => (c.underlay.nics = ["eth0", "x y"]),
      "INVALID_CONFIG",
      /underlay\.nics\[1\]: interface name "x y" is not valid/,
    ],
    ["a VNI out of range", (c) => (c.vni = 0), "INVALID_CONFIG", /vni: 0 is out of range/],
    [
      "a bad controller",
      (c) => (c.controller = { targets: ["tcp:nowhere"] }),
      "INVALID_CONFIG",
      /controller\.targets\[0\]/,
    ],
    [
      "a missing NIC",
      (c) => (c.underlay.nics = ["eth0", "eth9"]),
      "NIC_MISSING",
      /underlay\.nics\[1\]: network interface "eth9" does not exist/,
    ],
    [
      "an MTU the NIC cannot carry",
      (c) => (c.underlay.mtu = 9000),
      "NIC_MTU_TOO_SMALL",
      /underlay\.mtu: 9000 is larger than the MTU 1500 of NIC "eth0"/,
    ],
    [
      "takeover without an address",
      (c) => (c.underlay.address = "takeover"),
      "NO_UNDERLAY_ADDRESS",
      /underlay\.address: takeover, but "eth0" has no IPv4 address/,
    ],
  ];
  it.each(cases)("%s", async (_name, edit, code, message) => {
    const sb = await createSandbox();
    const file = join(sb.dir, "vm-init.json");
    const input = JSON.parse(JSON.stringify(configFor(sb))) as VmInitConfigInput;
    edit(input);
    writeFileSync(file, JSON.stringify(input));
    const ovsBefore = await ovsSnapshot(sb);
    const kernelBefore = await kernelSnapshot(sb);
    await expectRefused(
      loadConfigFile(file).then((c) => apply(c, targetOf(sb))),
      code,
      message,
    );
    expect(await ovsSnapshot(sb)).toBe(ovsBefore);
    expect(await kernelSnapshot(sb)).toBe(kernelBefore);
  });

  it("someone else's icbr0", async () => {
    const sb = await createSandbox();
    await sb.vsctl("add-br", "icbr0", "--", "set", "bridge", "icbr0", "datapath_type=netdev");
    const ovsBefore = await ovsSnapshot(sb);
    await expectRefused(
      apply(configFor(sb), targetOf(sb)),
      "BRIDGE_CONFLICT",
      /"icbr0" exists but was not created by vm-init/,
    );
    expect(await ovsSnapshot(sb)).toBe(ovsBefore);
    // ... and teardown does not touch it either.
    expect((await teardown(configFor(sb), targetOf(sb))).skippedBridges).toEqual(["icbr0"]);
    expect(await sb.vsctl("list-br")).toBe("icbr0");
  });
});

describe("failures roll back", () => {
  it("the kernel datapath without its kernel module: OVS's reason, everything undone", async () => {
    const sb = await createSandbox();
    const ovsBefore = await ovsSnapshot(sb);
    const kernelBefore = await kernelSnapshot(sb);
    await expectRefused(
      apply(
        configFor(sb, (c) => {
          c.datapath = "system";
        }),
        targetOf(sb),
      ),
      "INTERFACE_ERROR",
      /could not open the system datapath for bridge "icbond0" \(is the openvswitch kernel module loaded\?\)/,
    );
    expect(await ovsSnapshot(sb)).toBe(ovsBefore);
    expect(await kernelSnapshot(sb)).toBe(kernelBefore);
  });

  it("a NIC that is missing from a converged bond: refused before anything changes", async () => {
    const sb = await createSandbox({ nics: ["eth0", "eth1"] });
    const bond = (c: VmInitConfigInput) => {
      c.underlay.nics = ["eth0", "eth1"];
    };
    await apply(configFor(sb, bond), targetOf(sb));
    await sb.ip("link", "del", "eth1");
    const ovsBefore = await ovsSnapshot(sb);
    await expectRefused(
      apply(configFor(sb, bond), targetOf(sb)),
      "NIC_MISSING",
      /underlay\.nics\[1\]: .*"eth1"/,
    );
    expect(await ovsSnapshot(sb)).toBe(ovsBefore);
  });
});

describe("missing OVS", () => {
  it("no database socket: OVS_UNAVAILABLE naming the socket, nothing touched", async () => {
    const sb = await createSandbox();
    await sb.stopOvs();
    const kernelBefore = await kernelSnapshot(sb);
    await expectRefused(
      apply(configFor(sb), targetOf(sb)),
      "OVS_UNAVAILABLE",
      new RegExp(`${sb.dir}/db.sock not found`),
    );
    await expectRefused(status(targetOf(sb)), "OVS_UNAVAILABLE", /db\.sock not found/);
    expect(await kernelSnapshot(sb)).toBe(kernelBefore);
  });

  it("ovsdb-server up but ovs-vswitchd gone: OVS_UNAVAILABLE, does not hang", async () => {
    const sb = await createSandbox();
    await sb.stopVswitchd();
    const t0 = Date.now();
    await expectRefused(
      apply(configFor(sb), targetOf(sb)),
      "OVS_UNAVAILABLE",
      /ovs-vswitchd is not running \(no pidfile /,
    );
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await sb.vsctl("list-br")).toBe("");
  });
});

describe("CLI", () => {
  let sb: OvsSandbox;
  const write = (input: unknown) => {
    const file = join(sb.dir, "vm-init.json");
    writeFileSync(file, JSON.stringify(input));
    return file;
  };

  it("apply, status --json and teardown run inside the namespace as the lab runs them", async () => {
    sb = await createSandbox();
    const file = write(configFor(sb));
    const a = await cli(sb, ["apply", "--config", file]);
    expect(a.stderr).toBe("");
    expect(a.exitCode).toBe(0);
    const result = JSON.parse(a.stdout) as { datapathId: string; changed: boolean; configuredMs: number };
    expect(result).toMatchObject({ datapathId: "0000002ac6120001", changed: true });

    const s = await cli(sb, ["status", "--json", "--config", file]);
    expect(s.exitCode).toBe(0);
    const report = JSON.parse(s.stdout) as Awaited<ReturnType<typeof status>>;
    expect(report.dpid).toBe("0000002ac6120001");
    expect(report.controllerConnected).toBe(false);
    expect(report.bridges.map((b) => [b.name, b.clusterId, b.datapathType])).toEqual([
      ["icbond0", "test", "netdev"],
      ["icbr0", "test", "netdev"],
    ]);
    const icbr0 = report.bridges[1]!;
    expect(icbr0.ports.flatMap((p) => p.interfaces).map((i) => [i.name, i.ofport])).toEqual([
      ["enc0", 1],
      ["icbr0", 65534],
      ["vint0", 2],
    ]);
    expect(report.devices.find((d) => d.name === "vint0")).toMatchObject({
      exists: true,
      up: true,
      mtu: 1450,
      addresses: ["198.18.0.1/24"],
    });
    expect(report.devices.find((d) => d.name === "icbond0")?.addresses).toEqual([sb.host!.vmCidr]);
    expect(report.defaultRoutes).toEqual([{ via: sb.host!.hostAddress, dev: "icbond0" }]);

    const text = await cli(sb, ["status"]);
    expect(text.stdout).toMatch(/^dpid: 0000002ac6120001$/m);

    const t = await cli(sb, ["teardown", "--config", file]);
    expect(t.exitCode).toBe(0);
    expect(await sb.vsctl("list-br")).toBe("");
  });

  it("a bad config: exit 78 (EX_CONFIG) and one line naming the field", async () => {
    sb = await createSandbox();
    const input = JSON.parse(JSON.stringify(configFor(sb))) as VmInitConfigInput;
    input.underlay.nics = ["eth0", "x y"];
    const r = await cli(sb, ["apply", "--config", write(input)]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toBe(
      'icsdn: INVALID_CONFIG: invalid vm-init config: underlay.nics[1]: interface name "x y" is not valid',
    );
    const u = await cli(sb, ["frobnicate"]);
    expect(u.exitCode).toBe(2);
    expect(u.stderr).toMatch(/unknown vm-init action 'frobnicate'/);
  });
});
