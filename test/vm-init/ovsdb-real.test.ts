/**
 * The OVSDB client against a real ovsdb-server and ovs-vswitchd (the sandbox), and the proof that
 * apply's transactions leave the same rows as the ovs-vsctl commands they replaced. Also the one
 * ip process apply uses, against a real namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apply, type VmInitConfigInput, VmInitError } from "../../vm-init/index.ts";
import { IpSession } from "../../vm-init/ip.ts";
import { mapOf, setOf, str } from "../../vm-init/ovsdb/notation.ts";
import { byName, insertOp, mutateOp, updateOp } from "../../vm-init/ovsdb/transact.ts";
import { VswitchDb } from "../../vm-init/ovsdb/vswitch.ts";
import { Shell } from "../../vm-init/shell.ts";
import { readLinkFacts } from "../../vm-init/sysfs.ts";
import { configFor, targetOf } from "./helpers.ts";
import { createSandbox, destroyAllSandboxes, type OvsSandbox } from "./ovs-sandbox.ts";

afterAll(destroyAllSandboxes);

async function rejected(p: Promise<unknown>): Promise<VmInitError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VmInitError);
  return err as VmInitError;
}

/** Columns ovs-vswitchd writes (status, identities that differ between two machines). */
const RUNTIME = new Set([
  "_uuid",
  "_version",
  "datapath_id",
  "datapath_version",
  "status",
  "rstp_status",
  "statistics",
  "ifindex",
  "mac_in_use",
  "link_resets",
  "link_speed",
  "link_state",
  "admin_state",
  "duplex",
  "mtu",
  "ofport",
  "error",
  "lacp_current",
  "bond_active_slave",
  "is_connected",
  "role",
]);

/**
 * Every configuration column of vm-init's tables, as ovs-vsctl (an independent reader) lists them,
 * with row references replaced by the referenced row's name: equal means the same rows.
 */
async function configRows(sb: OvsSandbox): Promise<Record<string, Record<string, unknown>[]>> {
  const list = async (table: string) => {
    const out = JSON.parse(await sb.vsctl("--format=json", "--data=json", "list", table)) as {
      headings: string[];
      data: unknown[][];
    };
    return out.data.map((cells) => Object.fromEntries(out.headings.map((h, i) => [h, cells[i]])));
  };
  const tables = {
    Bridge: await list("Bridge"),
    Port: await list("Port"),
    Interface: await list("Interface"),
    Controller: await list("Controller"),
  };
  const names = new Map<string, string>();
  for (const t of ["Bridge", "Port", "Interface"] as const)
    for (const r of tables[t]) names.set(str(r._uuid), `${t}:${str(r.name)}`);
  for (const r of tables.Controller) names.set(str(r._uuid), `Controller:${str(r.target)}`);
  const refs = (v: unknown): unknown => {
    if (Array.isArray(v) && v[0] === "uuid") return names.get(String(v[1])) ?? "?";
    if (Array.isArray(v) && v[0] === "set")
      return [
        "set",
        setOf(v)
          .map((a) => names.get(String(a)) ?? a)
          .sort(),
      ];
    if (Array.isArray(v) && v[0] === "map") return ["map", mapOf(v)];
    return v;
  };
  return Object.fromEntries(
    Object.entries(tables).map(([t, rows]) => [
      t,
      rows
        .map((r) =>
          Object.fromEntries(
            Object.entries(r)
              .filter(([k]) => !RUNTIME.has(k))
              .map(([k, v]) => [k, refs(v)]),
          ),
        )
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ]),
  );
}

/** What the ovs-vsctl implementation (git history) ran for these configs, one transaction each. */
const single = (mac: string) => [
  [
    ["--may-exist", "add-br", "icbond0"],
    ["set", "Bridge", "icbond0", 'datapath_type="netdev"', 'external_ids:icsdn-vm-init="test"'],
    ["--may-exist", "add-port", "icbond0", "eth0"],
    ["set", "Interface", "icbond0", "mtu_request=1500"],
    ["--may-exist", "add-br", "icbr0"],
    [
      "set",
      "Bridge",
      "icbr0",
      'datapath_type="netdev"',
      'protocols=["OpenFlow13"]',
      'fail_mode="secure"',
      'other_config:datapath-id="0000002ac6120001"',
      'other_config:disable-in-band="true"',
      'external_ids:icsdn-vm-init="test"',
    ],
    ["--may-exist", "add-port", "icbr0", "enc0"],
    [
      "set",
      "Interface",
      "enc0",
      'type="vxlan"',
      'options={"key"="flow","remote_ip"="flow"}',
      "ofport_request=1",
    ],
    ["--may-exist", "add-port", "icbr0", "vint0"],
    ["set", "Interface", "vint0", 'type="internal"', "ofport_request=2", "mtu_request=1450", `mac="${mac}"`],
  ],
  [
    ["--id=@ctl0", "create", "Controller", 'target="tcp:203.0.113.1:6653"', "max_backoff=1000"],
    ["add", "Bridge", "icbr0", "controller", "@ctl0"],
  ],
];
const bond = (mac: string) => [
  [
    ["--may-exist", "add-br", "icbond0"],
    ["set", "Bridge", "icbond0", 'datapath_type="netdev"', 'external_ids:icsdn-vm-init="test"'],
    ["--may-exist", "add-bond", "icbond0", "icbond0-nics", "eth0", "eth1"],
    [
      "set",
      "Port",
      "icbond0-nics",
      'bond_mode="balance-tcp"',
      'lacp="active"',
      'other_config:lacp-fallback-ab="true"',
    ],
    ["set", "Interface", "icbond0", "mtu_request=1500"],
    ["--may-exist", "add-br", "icbr0"],
    [
      "set",
      "Bridge",
      "icbr0",
      'datapath_type="netdev"',
      'protocols=["OpenFlow13"]',
      'fail_mode="secure"',
      'other_config:datapath-id="0000002ac6120001"',
      'other_config:disable-in-band="true"',
      'external_ids:icsdn-vm-init="test"',
    ],
    ["--may-exist", "add-port", "icbr0", "enc0"],
    [
      "set",
      "Interface",
      "enc0",
      'type="gre"',
      'options={"key"="flow","remote_ip"="flow"}',
      "ofport_request=1",
    ],
    ["--may-exist", "add-port", "icbr0", "vint0"],
    // No MAC in the config: vm-init sets the contract's (vint0MacFor), where OVS picked one before.
    ["set", "Interface", "vint0", 'type="internal"', "ofport_request=2", "mtu_request=1458", `mac="${mac}"`],
  ],
];

describe("apply writes the rows ovs-vsctl wrote", () => {
  const cases: [string, string[], (c: VmInitConfigInput) => void, (mac: string) => string[][][]][] = [
    [
      "one NIC, vxlan, a controller",
      ["eth0"],
      (c) => {
        c.controller = { targets: ["tcp:203.0.113.1:6653"], connectTimeoutMs: 0 };
      },
      single,
    ],
    [
      "a balance-tcp bond of two NICs, gre",
      ["eth0", "eth1"],
      (c) => {
        c.tunnel = "gre";
        delete c.vint0.mac;
        c.underlay.nics = ["eth0", "eth1"];
        c.underlay.bondMode = "balance-tcp";
      },
      bond,
    ],
  ];
  it.each(cases)("%s", async (_name, nics, edit, commands) => {
    const ours = await createSandbox({ nics });
    const theirs = await createSandbox({ nics });
    const config = configFor(ours, edit);
    await apply(config, targetOf(ours));
    for (const txn of commands(config.vint0.mac)) await theirs.vsctl(...txn.flatMap((c) => ["--", ...c]));
    const [a, b] = [await configRows(ours), await configRows(theirs)];
    expect(a.Bridge).toHaveLength(2);
    expect(a).toEqual(b);
    await ours.destroy();
    await theirs.destroy();
  });
});

describe("VswitchDb on a real ovsdb-server", () => {
  let sb: OvsSandbox;
  let db: VswitchDb;
  beforeAll(async () => {
    sb = await createSandbox({ nics: [], hostLink: false });
    db = await VswitchDb.open(sb.dir, { timeoutMs: 5000 });
  });
  afterAll(() => db?.close());

  const addBridge = (name: string) => [
    insertOp("Interface", { name, type: "internal" }, "i"),
    insertOp("Port", { name, interfaces: ["set", [["named-uuid", "i"]]] }, "p"),
    insertOp("Bridge", { name, datapath_type: "netdev", ports: ["set", [["named-uuid", "p"]]] }, "b"),
    mutateOp("Open_vSwitch", [], [["bridges", "insert", ["set", [["named-uuid", "b"]]]]]),
  ];

  it("--wait returns once ovs-vswitchd built the bridge; the monitor already holds what it reported", async () => {
    const before = db.curCfg;
    const results = await db.transact(addBridge("br-a"), { wait: true, what: "add br-a" });
    expect(results[2]?.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(db.curCfg).toBe(before + 1);
    const seen = db.observed();
    expect(seen.datapathIds.get("br-a")).toMatch(/^[0-9a-f]{16}$/);
    expect(seen.interfaces.get("br-a")?.ofport).toBe(65534);
    expect(await sb.vsctl("list-br")).toBe("br-a");
  });

  it("sees what others write", async () => {
    await sb.vsctl(
      "--no-wait",
      "add-br",
      "br-other",
      "--",
      "set",
      "Bridge",
      "br-other",
      "datapath_type=netdev",
    );
    await db.waitFor(() => db.observed().state.bridges.some((b) => b.name === "br-other"), "br-other", 2000);
  });

  it("an error names the operation and the row; nothing of the transaction is written", async () => {
    const err = await rejected(
      db.transact([...addBridge("br-b"), updateOp("Bridge", byName("br-a"), { no_such_column: 1 })], {
        wait: false,
        what: "change br-a",
      }),
    );
    // Operation 1 is vm-init's check that br-a is still there.
    expect(`${err.code}: ${err.message}`).toMatch(
      /^OVS_COMMAND_FAILED: OVSDB refused to change br-a: operation 6 of 6 \(update Bridge br-a\): unknown column: .*no_such_column/,
    );
    const dup = await rejected(db.transact(addBridge("br-a"), { wait: false, what: "add br-a again" }));
    expect(dup.message).toMatch(/^OVSDB refused to add br-a again: constraint violation: .*br-a/);
    expect((await sb.vsctl("list-br")).split("\n")).toEqual(["br-a", "br-other"]);
  });

  it("a row read and then removed by someone else: OVS_CONFLICT, nothing written", async () => {
    const planned = db.observed();
    await sb.vsctl("del-br", "br-other");
    const err = await rejected(
      db.transact([...addBridge("br-c"), updateOp("Bridge", byName("br-other"), { fail_mode: "secure" })], {
        wait: false,
        what: "change br-other",
        basis: planned,
      }),
    );
    expect(err.code).toBe("OVS_CONFLICT");
    expect(err.message).toMatch(/\(wait Bridge br-other\) no longer holds; nothing was written/);
    expect(await sb.vsctl("list-br")).toBe("br-a");
  });
});

describe("the one ip process of an apply", () => {
  it("reads, changes, answers after the changes, exits; a failing line is named", async () => {
    const sb = await createSandbox({ nics: ["eth0"], hostLink: false });
    const sh = new Shell({ netns: sb.name });
    const ip = IpSession.start(sh);
    const k = await ip.read();
    expect(k.links.get("eth0")).toMatchObject({ up: true, addresses: [] });
    await ip.run(["addr add 192.0.2.10/24 dev eth0", "route replace default via 192.0.2.1 dev eth0"]);
    // Done when run() resolves, before ip exits.
    expect(await sb.ip("-4", "-o", "addr", "show", "dev", "eth0")).toMatch(/192\.0\.2\.10\/24/);
    expect((await ip.read()).defaultRoutes).toEqual([{ via: "192.0.2.1", dev: "eth0" }]);
    await ip.close();
    expect(sh.spawns).toBe(1);

    const bad = IpSession.start(sh);
    const err = await rejected(bad.run(["link set eth0 up", "link set nosuch up", "link set lo up"]));
    expect(`${err.code}: ${err.message}`).toMatch(
      /^IP_COMMAND_FAILED: ip link set nosuch up: Cannot find device "nosuch"/,
    );
    await sb.destroy();
  });
});

describe("reading the devices from sysfs", () => {
  it("trusts ovs-vswitchd's sysfs for its own namespace only", async () => {
    const sb = await createSandbox({ nics: ["eth0", "eth1"] });
    const pid = sb.pid("ovs-vswitchd");
    const links = readLinkFacts(sb.name, pid);
    expect([...(links?.keys() ?? [])]).toEqual(["eth0", "eth1", "lo"]);
    expect(links?.get("eth1")).toMatchObject({ up: true, mtu: 1500 });
    // ovs-vswitchd is not in another namespace: no answer rather than a wrong one.
    expect(readLinkFacts("icvt-none", pid)).toBeUndefined();
    expect(readLinkFacts(sb.name, undefined)).toBeUndefined();
    // The fast path is what a fresh apply takes here; a converged machine is read with ip.
    const config = configFor(sb, (c) => {
      c.underlay = { nics: ["eth0"], address: "192.0.2.2/24" };
    });
    expect((await apply(config, targetOf(sb))).devicesFrom).toBe("sysfs");
    expect((await apply(config, targetOf(sb))).devicesFrom).toBe("ip");
    await sb.destroy();
  });
});
