/**
 * Captures a corpus of real messages from Open vSwitch into fixtures/ovs-corpus.json.
 * Run by hand when OVS changes: `node test/proto/capture-ovs-corpus.ts`. It starts a private
 * OVS (userspace datapath, temp dir, nothing shared with the system), connects to its bridge as
 * the controller, makes it send each kind of message we care about, and stores the bytes exactly
 * as they came off the socket. ovs-corpus.test.ts decodes and re-encodes every one.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { OFP_NO_BUFFER, OFPG, OFPP, OFPTT, type OfpMessage, type OxmField } from "../../proto/index.ts";
import { egressFlowMod, flowMod } from "./helpers.ts";
import { startPrivateOvs, TestController } from "./private-ovs.ts";

interface CorpusEntry {
  name: string;
  type: OfpMessage["type"];
  hex: string;
}

const PACKET = new Uint8Array(
  Buffer.from(
    "ffffffffffff0200000000010800450000200001000040110000c6120001c612000200350035000c000000000000",
    "hex",
  ),
);

const flow = (xid: number, over: Parameters<typeof flowMod>[1]): OfpMessage =>
  flowMod(xid, { cookie: 0x1c0000000000002an, ...over });

const ingressMatch: OxmField[] = [
  { field: "IN_PORT", value: 1 },
  { field: "TUNNEL_ID", value: 42n },
  { field: "TUN_IPV4_SRC", value: "203.0.113.20" },
];
const ingress = (xid: number) =>
  flow(xid, {
    priority: 200,
    flags: 1, // SEND_FLOW_REM, so deleting it brings a FLOW_REMOVED
    match: ingressMatch,
    instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: 2, maxLen: 0 }] }],
  });

async function main(): Promise<void> {
  const ovs = startPrivateOvs("br0");
  const entries: CorpusEntry[] = [];
  let ctl: TestController | undefined;
  try {
    ovs.vsctl(
      "add-port",
      "br0",
      "enc0",
      "--",
      "set",
      "interface",
      "enc0",
      "type=vxlan",
      "options:remote_ip=flow",
      "options:key=flow",
      "ofport_request=1",
    );
    ctl = await TestController.connect(ovs.controllerSocket);
    const c = ctl;
    const keep = (name: string, index: number) => {
      const m = c.received[index]!;
      entries.push({ name, type: m.type, hex: Buffer.from(c.frames[index]!).toString("hex") });
    };
    /** Sends `m`, waits for the first new message `pred` accepts, keeps it under `name`. */
    const ask = async (name: string, m: OfpMessage | null, pred: (r: OfpMessage) => boolean) => {
      const from = c.received.length;
      if (m) c.send(m);
      await c.until((r) => c.received.indexOf(r) >= from && pred(r));
      keep(
        name,
        c.received.findIndex((r, i) => i >= from && pred(r)),
      );
    };
    const reply = (xid: number) => (r: OfpMessage) => r.xid === xid;

    keep(
      "hello (OVS's version bitmap)",
      c.received.findIndex((m) => m.type === "HELLO"),
    );
    await ask("features reply", { type: "FEATURES_REQUEST", xid: 2 }, reply(2));
    await ask("get config reply", { type: "GET_CONFIG_REQUEST", xid: 3 }, reply(3));
    await ask(
      "desc reply",
      { type: "MULTIPART_REQUEST", xid: 4, flags: 0, body: { kind: "DESC" } },
      reply(4),
    );
    await ask(
      "port desc reply",
      { type: "MULTIPART_REQUEST", xid: 5, flags: 0, body: { kind: "PORT_DESC" } },
      reply(5),
    );
    await ask(
      "port stats reply",
      { type: "MULTIPART_REQUEST", xid: 6, flags: 0, body: { kind: "PORT_STATS", portNo: OFPP.ANY } },
      reply(6),
    );
    await ask(
      "table stats reply (254 tables)",
      { type: "MULTIPART_REQUEST", xid: 7, flags: 0, body: { kind: "TABLE" } },
      reply(7),
    );
    c.send(egressFlowMod(8));
    c.send(ingress(9));
    await ask("barrier reply", { type: "BARRIER_REQUEST", xid: 10 }, reply(10));
    const filter = {
      tableId: OFPTT.ALL,
      outPort: OFPP.ANY,
      outGroup: OFPG.ANY,
      cookie: 0n,
      cookieMask: 0n,
      match: [],
    };
    await ask(
      "flow stats reply (tunnel rules)",
      { type: "MULTIPART_REQUEST", xid: 11, flags: 0, body: { kind: "FLOW", ...filter } },
      reply(11),
    );
    await ask(
      "aggregate reply",
      { type: "MULTIPART_REQUEST", xid: 12, flags: 0, body: { kind: "AGGREGATE", ...filter } },
      reply(12),
    );
    c.send({
      type: "GROUP_MOD",
      xid: 13,
      command: "ADD",
      groupType: "SELECT",
      groupId: 7,
      buckets: [
        {
          weight: 1,
          watchPort: OFPP.ANY,
          watchGroup: OFPG.ANY,
          actions: [{ kind: "OUTPUT", port: 1, maxLen: 0 }],
        },
        {
          weight: 2,
          watchPort: OFPP.ANY,
          watchGroup: OFPG.ANY,
          actions: [{ kind: "OUTPUT", port: 2, maxLen: 0 }],
        },
      ],
    });
    await ask(
      "group desc reply",
      { type: "MULTIPART_REQUEST", xid: 14, flags: 0, body: { kind: "GROUP_DESC" } },
      reply(14),
    );
    await ask(
      "group stats reply",
      { type: "MULTIPART_REQUEST", xid: 15, flags: 0, body: { kind: "GROUP", groupId: OFPG.ALL } },
      reply(15),
    );
    await ask("role reply", { type: "ROLE_REQUEST", xid: 16, role: "NOCHANGE", generationId: 0n }, reply(16));
    await ask("get async reply", { type: "GET_ASYNC_REQUEST", xid: 17 }, reply(17));
    await ask("echo reply", { type: "ECHO_REQUEST", xid: 18, data: new Uint8Array([1, 2, 3, 4]) }, reply(18));
    await ask("error: bad table id", flow(19, { tableId: 255 }), reply(19));
    await ask(
      "error: unknown multipart type",
      {
        type: "MULTIPART_REQUEST",
        xid: 20,
        flags: 0,
        body: { kind: "RAW", mpType: 0x7777, data: new Uint8Array(0) },
      },
      reply(20),
    );
    await ask(
      "bundle open reply",
      {
        type: "BUNDLE_CONTROL",
        xid: 21,
        bundleId: 1,
        ctrlType: "OPEN_REQUEST",
        flags: 1,
        properties: new Uint8Array(0),
      },
      reply(21),
    );
    c.send({
      type: "BUNDLE_ADD_MESSAGE",
      xid: 22,
      bundleId: 1,
      flags: 1,
      message: egressFlowMod(22),
      properties: new Uint8Array(0),
    });
    await ask(
      "bundle commit reply",
      {
        type: "BUNDLE_CONTROL",
        xid: 23,
        bundleId: 1,
        ctrlType: "COMMIT_REQUEST",
        flags: 1,
        properties: new Uint8Array(0),
      },
      reply(23),
    );
    await ask(
      "error: bundle commit of an unknown bundle",
      {
        type: "BUNDLE_CONTROL",
        xid: 24,
        bundleId: 99,
        ctrlType: "COMMIT_REQUEST",
        flags: 1,
        properties: new Uint8Array(0),
      },
      reply(24),
    );
    await ask(
      "packet in (from a packet out to the controller)",
      {
        type: "PACKET_OUT",
        xid: 25,
        bufferId: OFP_NO_BUFFER,
        inPort: OFPP.CONTROLLER,
        actions: [{ kind: "OUTPUT", port: OFPP.CONTROLLER, maxLen: 0xffff }],
        data: PACKET,
      },
      (r) => r.type === "PACKET_IN",
    );
    await ask(
      "flow removed (delete)",
      flow(26, { command: "DELETE", tableId: OFPTT.ALL, priority: 200, match: ingressMatch }),
      (r) => r.type === "FLOW_REMOVED",
    );
    const from = c.received.length;
    ovs.vsctl(
      "add-port",
      "br0",
      "vint0",
      "--",
      "set",
      "interface",
      "vint0",
      "type=internal",
      "ofport_request=2",
    );
    await c.until((r) => c.received.indexOf(r) >= from && r.type === "PORT_STATUS");
    keep(
      "port status (port added)",
      c.received.findIndex((r, i) => i >= from && r.type === "PORT_STATUS"),
    );
  } finally {
    ctl?.close();
    ovs.stop();
  }
  const version = spawnSync("ovs-vswitchd", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
  const out = {
    note: "Captured from a real Open vSwitch by test/proto/capture-ovs-corpus.ts: a private ovs-vswitchd (userspace datapath), our codec connected as the bridge's controller over its unix socket, each message stored exactly as read from the socket.",
    ovs: version,
    captured: new Date().toISOString().slice(0, 10),
    messages: entries,
  };
  const path = join(import.meta.dirname, "fixtures", "ovs-corpus.json");
  writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`${entries.length} messages from ${version} written to ${path}`);
}

await main();
