/**
 * The OVSDB client's pure parts (framing, JSON-RPC, transact replies, monitor updates, the
 * checks it adds to a transaction) and its socket edge against a scripted server on a unix
 * socket: messages cut anywhere, several per chunk, echo, error replies, timeouts, a server that
 * hangs up or floods.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { VmInitError } from "../../vm-init/errors.ts";
import { observedFrom } from "../../vm-init/ovs-observed.ts";
import { OvsdbClient } from "../../vm-init/ovsdb/client.ts";
import { JsonSplitter } from "../../vm-init/ovsdb/json-stream.ts";
import { applyTableUpdates, type Tables } from "../../vm-init/ovsdb/replica.ts";
import { describeRpcError, parseMessage } from "../../vm-init/ovsdb/rpc.ts";
import {
  byName,
  byUuid,
  checkTransactReply,
  insertOp,
  mutateOp,
  type Operation,
  updateOp,
} from "../../vm-init/ovsdb/transact.ts";
import { bumpNextCfg, guardsFor, heldIn, monitorParams, VswitchDb } from "../../vm-init/ovsdb/vswitch.ts";
import { currEstab } from "../../vm-init/proc-net.ts";
import { linkFromSysfs, procNetDevNames } from "../../vm-init/sysfs.ts";

function caught(f: () => unknown): VmInitError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(VmInitError);
    return err as VmInitError;
  }
  throw new Error("did not throw");
}

async function rejected(p: Promise<unknown>): Promise<VmInitError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VmInitError);
  return err as VmInitError;
}

describe("JsonSplitter", () => {
  // Braces and brackets inside strings, escaped quotes and backslashes, non-ASCII.
  const messages = [
    { id: 1, result: [{ rows: [{ name: "br{0}", other: ["map", [["k]", 'v"}']]] }] }], error: null },
    { method: "update", params: ["icsdn-vm-init", { Bridge: { u: { new: { name: "a\\\\" } } } }], id: null },
    { method: "echo", params: [], id: "echo" },
    [1, "é ✓ {[", { x: "\\" }],
  ];
  const text = messages.map((m) => JSON.stringify(m)).join(" \n");

  it("cuts one chunk holding several values, whitespace between them", () => {
    const out = new JsonSplitter(1 << 20).push(text);
    expect(out.map((t) => JSON.parse(t))).toEqual(messages);
  });

  it("gives the same values wherever the stream is cut (every single cut, and random many-cut)", () => {
    for (let cut = 0; cut <= text.length; cut++) {
      const s = new JsonSplitter(1 << 20);
      const out = [...s.push(text.slice(0, cut)), ...s.push(text.slice(cut))];
      expect(out.map((t) => JSON.parse(t))).toEqual(messages);
      expect(s.pending).toBe(0);
    }
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 30 }), (cuts) => {
        const points = [0, ...[...cuts].sort((a, b) => a - b), text.length];
        const s = new JsonSplitter(1 << 20);
        const out: string[] = [];
        for (let i = 1; i < points.length; i++) out.push(...s.push(text.slice(points[i - 1], points[i])));
        expect(out.map((t) => JSON.parse(t))).toEqual(messages);
      }),
    );
  });

  it("any JSON objects and arrays, any whitespace between them, cut anywhere (property)", () => {
    const value = fc.oneof(fc.object(), fc.array(fc.jsonValue()));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.constantFrom("", " ", "\n", "\r\n\t ")), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (items, cutSeeds) => {
          const stream = items.map(([v, ws]) => JSON.stringify(v) + ws).join("");
          const cuts = [...new Set(cutSeeds.map((n) => n % (stream.length + 1)))].sort((a, b) => a - b);
          const points = [0, ...cuts, stream.length];
          const s = new JsonSplitter(1 << 24);
          const out: string[] = [];
          for (let i = 1; i < points.length; i++) out.push(...s.push(stream.slice(points[i - 1], points[i])));
          expect(out.map((t) => JSON.parse(t))).toEqual(items.map(([v]) => JSON.parse(JSON.stringify(v))));
          expect(s.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("holds an unfinished value and reports how much", () => {
    const s = new JsonSplitter(100);
    expect(s.push('{"a": "}')).toEqual([]);
    expect(s.pending).toBe(8);
    expect(s.push('"}{"b"')).toEqual(['{"a": "}"}']);
    expect(s.pending).toBe(4);
  });

  it("refuses a value longer than its bound, split or whole, and anything but an object or array", () => {
    const split = new JsonSplitter(16);
    split.push('{"a": "0123');
    expect(caught(() => split.push("456789")).code).toBe("OVSDB_PROTOCOL_ERROR");
    expect(caught(() => new JsonSplitter(16).push(`{"a": "${"x".repeat(20)}"}`)).message).toMatch(
      /exceeds 16 characters/,
    );
    expect(caught(() => new JsonSplitter(16).push('  "bare"')).message).toMatch(
      /expected a JSON object or array, got "\\"bare\\""/,
    );
  });
});

describe("JSON-RPC messages", () => {
  it("tells responses, requests and notifications apart", () => {
    expect(parseMessage('{"id": 3, "result": {"a": 1}, "error": null}')).toEqual({
      kind: "response",
      id: 3,
      result: { a: 1 },
      error: null,
    });
    expect(parseMessage('{"id": "echo", "method": "echo", "params": []}')).toEqual({
      kind: "request",
      id: "echo",
      method: "echo",
      params: [],
    });
    expect(parseMessage('{"id": null, "method": "update", "params": ["m", {}]}')).toEqual({
      kind: "notification",
      method: "update",
      params: ["m", {}],
    });
  });

  it("refuses what is not JSON-RPC, quoting it", () => {
    expect(caught(() => parseMessage("{nope")).message).toMatch(/^OVSDB sent not JSON/);
    expect(caught(() => parseMessage('{"method": "update"}')).message).toMatch(/without a params array/);
    expect(caught(() => parseMessage('{"result": 1, "id": {}}')).message).toMatch(/response id/);
    expect(caught(() => parseMessage("[1]")).code).toBe("OVSDB_PROTOCOL_ERROR");
  });

  it("describes OVSDB's error objects in one line", () => {
    expect(describeRpcError({ error: "constraint violation", details: "duplicate name" })).toBe(
      "constraint violation: duplicate name",
    );
    expect(describeRpcError({ error: "unknown database" })).toBe("unknown database");
    expect(describeRpcError("timeout")).toBe("timeout");
    expect(describeRpcError([1])).toBe("[1]");
  });
});

describe("transact replies", () => {
  const ops: Operation[] = [
    insertOp("Interface", { name: "vint0" }, "if0"),
    updateOp("Interface", byName("enc0"), { type: "gre" }),
    mutateOp("Bridge", byUuid("1111"), [["ports", "insert", ["set", [["named-uuid", "if0"]]]]]),
    { op: "select", table: "Open_vSwitch", where: [], columns: ["next_cfg"] },
  ];
  const nameOf = (table: string, id: string) => (table === "Bridge" && id === "1111" ? "icbr0" : undefined);

  it("returns one result per operation: uuid, count, rows", () => {
    const reply = [{ uuid: ["uuid", "abcd"] }, { count: 1 }, { count: 1 }, { rows: [{ next_cfg: 7 }] }];
    expect(checkTransactReply(ops, reply, "build", nameOf)).toEqual([
      { uuid: "abcd" },
      { count: 1 },
      { count: 1 },
      { rows: [{ next_cfg: 7 }] },
    ]);
  });

  it("names the operation that failed and the row it was about", () => {
    const reply = [
      { uuid: ["uuid", "abcd"] },
      { count: 1 },
      { error: "referential integrity violation", details: "x" },
      null,
    ];
    const err = caught(() => checkTransactReply(ops, reply, "build icbr0", nameOf));
    expect(`${err.code}: ${err.message}`).toBe(
      "OVS_COMMAND_FAILED: OVSDB refused to build icbr0: operation 3 of 4 (mutate Bridge icbr0): referential integrity violation: x",
    );
    const byNameErr = caught(() =>
      checkTransactReply(ops, [{}, { error: "unknown column", details: "typo" }], "x", nameOf),
    );
    expect(byNameErr.message).toMatch(/operation 2 of 4 \(update Interface enc0\): unknown column: typo$/);
  });

  it("a failure at commit comes after the last operation's result", () => {
    const reply = [
      { uuid: ["uuid", "a"] },
      { count: 1 },
      { count: 1 },
      { rows: [] },
      { error: "constraint violation", details: "dup" },
    ];
    expect(caught(() => checkTransactReply(ops, reply, "build", nameOf)).message).toBe(
      "OVSDB refused to build: constraint violation: dup",
    );
  });

  it("a failed check (a `wait` that found the row gone) is OVS_CONFLICT: nothing was written", () => {
    const wait: Operation[] = [
      {
        op: "wait",
        table: "Bridge",
        where: byName("icbr0"),
        columns: ["name"],
        until: "==",
        rows: [{ name: "icbr0" }],
        timeout: 0,
      },
      ...ops,
    ];
    const err = caught(() => checkTransactReply(wait, [{ error: "timed out" }], "build", nameOf));
    expect(err.code).toBe("OVS_CONFLICT");
    expect(err.message).toMatch(
      /operation 1 of 5 \(wait Bridge icbr0\) no longer holds; nothing was written/,
    );
  });

  it("too few results or no array is a protocol error", () => {
    expect(caught(() => checkTransactReply(ops, [{}], "x", nameOf)).code).toBe("OVSDB_PROTOCOL_ERROR");
    expect(caught(() => checkTransactReply(ops, { a: 1 }, "x", nameOf)).code).toBe("OVSDB_PROTOCOL_ERROR");
  });
});

describe("the monitor's replica", () => {
  it("inserts, merges modified columns, deletes", () => {
    const t: Tables = new Map();
    applyTableUpdates(t, { Bridge: { u1: { new: { name: "icbr0", datapath_id: ["set", []] } } } });
    applyTableUpdates(t, {
      Bridge: { u1: { old: { datapath_id: ["set", []] }, new: { datapath_id: "00002a" } } },
    });
    expect(t.get("Bridge")?.get("u1")).toEqual({ name: "icbr0", datapath_id: "00002a" });
    applyTableUpdates(t, {
      Bridge: { u1: { old: { name: "icbr0" } } },
      Port: { p1: { new: { name: "x" } } },
    });
    expect(t.get("Bridge")?.size).toBe(0);
    expect(t.get("Port")?.get("p1")).toEqual({ name: "x" });
  });

  it("refuses updates of the wrong shape", () => {
    expect(caught(() => applyTableUpdates(new Map(), [1])).code).toBe("OVSDB_PROTOCOL_ERROR");
    expect(caught(() => applyTableUpdates(new Map(), { Bridge: { u: { new: [1] } } })).message).toMatch(
      /"new" row for Bridge u/,
    );
  });
});

describe("what vm-init adds to a transaction", () => {
  it("checks that every row it names, as read, is still there; not rows the transaction makes", () => {
    const existed = (table: string, cond: readonly unknown[]) =>
      (table === "Bridge" && cond[2] === "icbr0") || (table === "Controller" && Array.isArray(cond[2]));
    const ops: Operation[] = [
      insertOp("Bridge", { name: "icbond0" }, "br0"),
      mutateOp("Bridge", byName("icbond0"), []), // inserted above: no check
      updateOp("Bridge", byName("icbr0"), { fail_mode: "secure" }),
      mutateOp("Bridge", byName("icbr0"), []), // the same row: checked once
      updateOp("Controller", byUuid("c1"), { max_backoff: 1000 }),
      mutateOp("Open_vSwitch", [], []),
    ];
    expect(guardsFor(ops, existed)).toEqual([
      {
        op: "wait",
        table: "Bridge",
        where: byName("icbr0"),
        columns: ["name"],
        until: "==",
        rows: [{ name: "icbr0" }],
        timeout: 0,
      },
      {
        op: "wait",
        table: "Controller",
        where: byUuid("c1"),
        columns: ["_uuid"],
        until: "==",
        rows: [{ _uuid: ["uuid", "c1"] }],
        timeout: 0,
      },
    ]);
  });

  it("judges existence by the state the plan was made from, not by what the monitor holds now", () => {
    const tables: Tables = new Map();
    applyTableUpdates(tables, {
      Bridge: { b1: { new: { name: "icbr0", ports: ["set", []], controller: ["uuid", "c1"] } } },
      Controller: { c1: { new: { target: "tcp:192.0.2.1:6653" } } },
    });
    const basis = observedFrom(tables);
    expect(heldIn(basis, "Bridge", ["name", "==", "icbr0"])).toBe(true);
    expect(heldIn(basis, "Bridge", ["name", "==", "icbond0"])).toBe(false);
    expect(heldIn(basis, "Port", ["name", "==", "icbr0"])).toBe(false);
    expect(heldIn(basis, "Controller", ["_uuid", "==", ["uuid", "c1"]])).toBe(true);
    expect(heldIn(basis, "Controller", ["_uuid", "==", ["uuid", "c2"]])).toBe(false);
  });

  it("--wait: next_cfg += 1, read back; the monitor asks for the columns vm-init reads", () => {
    expect(bumpNextCfg("root")).toEqual([
      { op: "mutate", table: "Open_vSwitch", where: byUuid("root"), mutations: [["next_cfg", "+=", 1]] },
      { op: "select", table: "Open_vSwitch", where: byUuid("root"), columns: ["next_cfg"] },
    ]);
    const [db, id, requests] = monitorParams() as [string, string, Record<string, { columns: string[] }>];
    expect([db, id]).toEqual(["Open_vSwitch", "icsdn-vm-init"]);
    expect(Object.keys(requests).sort()).toEqual([
      "Bridge",
      "Controller",
      "Interface",
      "Open_vSwitch",
      "Port",
      "SSL",
    ]);
    expect(requests.Open_vSwitch?.columns).toEqual(["bridges", "next_cfg", "cur_cfg", "ssl"]);
  });
});

describe("the /proc and /sys readers", () => {
  it("CurrEstab from /proc/net/snmp", () => {
    const snmp = [
      "Ip: Forwarding DefaultTTL",
      "Ip: 1 64",
      "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs",
      "Tcp: 1 200 120000 -1 10 0 2 0 3 99",
    ].join("\n");
    expect(currEstab(snmp)).toBe(3);
    expect(currEstab("Ip: a\nIp: 1")).toBeUndefined();
  });

  it("device names from /proc/net/dev, one device from its sysfs files", () => {
    const dev = [
      "Inter-|   Receive                            |  Transmit",
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets",
      "    lo:       0       0    0    0    0     0          0         0        0       0",
      "  eth0:    1296      16    0    0    0     0          0         0      936      12",
      "",
    ].join("\n");
    expect(procNetDevNames(dev)).toEqual(["lo", "eth0"]);
    expect(linkFromSysfs("eth0", "0x1003\n", "1500\n", "fa:16:3e:00:00:01\n")).toEqual({
      name: "eth0",
      up: true,
      noarp: false,
      mtu: 1500,
      mac: "fa:16:3e:00:00:01",
    });
    expect(linkFromSysfs("eth0", "0x1082", "9000", "x")).toMatchObject({ up: false, noarp: true, mtu: 9000 });
    expect(linkFromSysfs("eth0", "zz", "1500", "x")).toBeUndefined();
  });
});

/** A scripted OVSDB server on a unix socket: each test says what it does with each request. */
class FakeServer {
  readonly path: string;
  readonly received: unknown[] = [];
  onRequest: (msg: { id: unknown; method: string; params: unknown[] }, sock: Socket) => void = () => {};
  private readonly server: Server;
  private readonly socks = new Set<Socket>();

  constructor(path: string) {
    this.path = path;
    this.server = createServer((sock) => {
      this.socks.add(sock);
      sock.on("close", () => this.socks.delete(sock));
      const split = new JsonSplitter(1 << 20);
      sock.setEncoding("utf8");
      sock.on("data", (chunk: string) => {
        for (const text of split.push(chunk)) {
          const msg = JSON.parse(text) as { id: unknown; method: string; params: unknown[] };
          this.received.push(msg);
          this.onRequest(msg, sock);
        }
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Writes `text` one small piece at a time, with pauses, so the client sees it in many chunks. */
async function trickle(sock: Socket, text: string, piece = 3): Promise<void> {
  for (let i = 0; i < text.length; i += piece) {
    sock.write(text.slice(i, i + piece));
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe("OvsdbClient on a unix socket", () => {
  let dir: string;
  let server: FakeServer;
  const clients: OvsdbClient[] = [];
  const connect = async (timeoutMs = 2000) => {
    const c = await OvsdbClient.connect(server.path, { timeoutMs });
    clients.push(c);
    return c;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "icsdn-ovsdb-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
  });
  const start = async (name: string) => {
    server = new FakeServer(join(dir, name));
    await server.listen();
  };

  it("matches responses to requests, whatever the chunking, with notifications in between", async () => {
    await start("chunks.sock");
    const notes: unknown[] = [];
    let writing = Promise.resolve();
    server.onRequest = (msg, sock) => {
      const update = JSON.stringify({ id: null, method: "update", params: ["m", { T: {} }] });
      const reply = JSON.stringify({ id: msg.id, result: { echoed: msg.params, s: '}{][\\"' }, error: null });
      // Two messages, cut into 3-character pieces (one answer after the other).
      writing = writing.then(() => trickle(sock, `${update}\n${reply}`));
    };
    const c = await connect();
    c.onNotification((method, params) => notes.push([method, params]));
    const [a, b] = await Promise.all([c.request("x", [1], "first"), c.request("y", [2], "second")]);
    expect(a).toEqual({ echoed: [1], s: '}{][\\"' });
    expect(b).toEqual({ echoed: [2], s: '}{][\\"' });
    expect(notes).toEqual([
      ["update", ["m", { T: {} }]],
      ["update", ["m", { T: {} }]],
    ]);
  });

  it("answers ovsdb-server's echo with its own params", async () => {
    await start("echo.sock");
    const c = await connect();
    // The server learns the connection from a first request (left unanswered), then probes it.
    const sock = await new Promise<Socket>((resolve) => {
      server.onRequest = (_msg, s) => resolve(s);
      void c.request("hello", [], "hello").catch(() => {});
    });
    const echo = new Promise<unknown>((resolve) => {
      server.onRequest = (msg) => resolve(msg);
    });
    sock.write(JSON.stringify({ id: "echo", method: "echo", params: ["probe", 1] }));
    expect(await echo).toEqual({ result: ["probe", 1], error: null, id: "echo" });
  });

  it("an error reply rejects with the server's error and what the request was for", async () => {
    await start("error.sock");
    server.onRequest = (msg, sock) =>
      sock.write(
        JSON.stringify({ id: msg.id, result: null, error: { error: "unknown database", details: "Nope" } }),
      );
    const c = await connect();
    const err = await rejected(c.request("monitor", ["Nope"], "read the OVS configuration"));
    expect(`${err.code}: ${err.message}`).toBe(
      "OVS_COMMAND_FAILED: OVSDB refused to read the OVS configuration: unknown database: Nope",
    );
    // The connection is still good for the next request.
    server.onRequest = (msg, sock) => sock.write(JSON.stringify({ id: msg.id, result: 7, error: null }));
    expect(await c.request("x", [], "x")).toBe(7);
  });

  it("a request nobody answers times out, naming it; a late answer is ignored", async () => {
    await start("silent.sock");
    let late: (() => void) | undefined;
    server.onRequest = (msg, sock) => {
      late = () => sock.write(JSON.stringify({ id: msg.id, result: 1, error: null }));
    };
    const c = await connect(50);
    const t0 = performance.now();
    const err = await rejected(c.request("transact", [], "build icbr0"));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(`${err.code}: ${err.message}`).toBe(
      "OVS_UNAVAILABLE: ovsdb-server did not answer within 50 ms (build icbr0)",
    );
    late?.();
    server.onRequest = (msg, sock) => sock.write(JSON.stringify({ id: msg.id, result: 2, error: null }));
    expect(await c.request("x", [], "x")).toBe(2);
  });

  it("a server that hangs up fails what is in flight and everything after", async () => {
    await start("hangup.sock");
    server.onRequest = (_msg, sock) => sock.destroy();
    const c = await connect();
    const err = await rejected(c.request("transact", [], "build icbr0"));
    expect(err.code).toBe("OVS_UNAVAILABLE");
    expect(err.message).toMatch(/closed the connection .*while waiting to build icbr0/);
    expect((await rejected(c.request("x", [], "x"))).code).toBe("OVS_UNAVAILABLE");
  });

  it("a message past the bound, or garbage, ends the connection with a protocol error", async () => {
    await start("flood.sock");
    server.onRequest = (_msg, sock) => sock.write(`{"id": 1, "result": "${"x".repeat(5000)}`);
    const c = await OvsdbClient.connect(server.path, { timeoutMs: 2000, maxMessageChars: 1000 });
    clients.push(c);
    const err = await rejected(c.request("x", [], "read"));
    expect(err.code).toBe("OVSDB_PROTOCOL_ERROR");
    expect(err.message).toMatch(/exceeds 1000 characters/);
    server.onRequest = (_msg, sock) => sock.write("HTTP/1.1 400 Bad Request\r\n");
    const c2 = await connect();
    expect((await rejected(c2.request("x", [], "read"))).message).toMatch(/expected a JSON object/);
  });

  it("no socket, or a socket file nobody listens on: OVS_UNAVAILABLE naming the path", async () => {
    server = new FakeServer(join(dir, "unused.sock"));
    await server.listen();
    const missing = join(dir, "missing.sock");
    const err = await rejected(OvsdbClient.connect(missing, { timeoutMs: 500 }));
    expect(err.message).toBe(
      `Open vSwitch database socket ${missing} not found: is ovsdb-server running? (set OVS_RUNDIR or --ovs-rundir)`,
    );
    const stale = join(dir, "stale.sock");
    writeFileSync(stale, "");
    expect((await rejected(OvsdbClient.connect(stale, { timeoutMs: 500 }))).message).toMatch(
      new RegExp(
        `(nothing accepts connections on|cannot connect to) the Open vSwitch database socket ${stale}`,
      ),
    );
  });
});

describe("VswitchDb's --wait against a scripted server", () => {
  let dir: string;
  let server: FakeServer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "icsdn-vswitch-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await server?.close();
  });

  /** Answers monitor with one root row; transact per `onTransact`. */
  async function serve(
    onTransact: (ops: Operation[], reply: (result: unknown) => void, sock: Socket) => void,
  ) {
    server = new FakeServer(join(dir, "db.sock"));
    server.onRequest = (msg, sock) => {
      const reply = (result: unknown) => sock.write(JSON.stringify({ id: msg.id, result, error: null }));
      if (msg.method === "monitor")
        reply({ Open_vSwitch: { root: { new: { bridges: ["set", []], next_cfg: 4, cur_cfg: 4 } } } });
      else if (msg.method === "transact") onTransact(msg.params.slice(1) as Operation[], reply, sock);
    };
    await server.listen();
  }
  const update = (sock: Socket, curCfg: number) =>
    sock.write(
      JSON.stringify({
        id: null,
        method: "update",
        params: ["icsdn-vm-init", { Open_vSwitch: { root: { new: { cur_cfg: curCfg } } } }],
      }),
    );

  it("bumps next_cfg in the same transaction and returns once cur_cfg has caught up", async () => {
    let sock: Socket | undefined;
    await serve((ops, reply, s) => {
      sock = s;
      expect(ops.slice(-2)).toEqual(bumpNextCfg("root"));
      reply([{ count: 1 }, { count: 1 }, { rows: [{ next_cfg: 5 }] }]);
      setTimeout(() => update(s, 5), 30);
    });
    const db = await VswitchDb.open(dir, { timeoutMs: 2000 });
    try {
      const t0 = performance.now();
      const results = await db.transact([mutateOp("Open_vSwitch", [], [])], { wait: true, what: "build" });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
      expect(results).toEqual([{ count: 1 }]);
      expect(db.curCfg).toBe(5);
      expect(sock).toBeDefined();
    } finally {
      db.close();
    }
  });

  it("times out when ovs-vswitchd never applies it, and fails at once when the connection drops", async () => {
    await serve((_ops, reply) => reply([{ count: 1 }, { count: 1 }, { rows: [{ next_cfg: 5 }] }]));
    const db = await VswitchDb.open(dir, { timeoutMs: 100 });
    try {
      const err = await rejected(
        db.transact([mutateOp("Open_vSwitch", [], [])], { wait: true, what: "build icbr0" }),
      );
      expect(`${err.code}: ${err.message}`).toBe(
        "OVS_UNAVAILABLE: timed out after 100 ms waiting for ovs-vswitchd to build icbr0 (cur_cfg 5; is ovs-vswitchd running?)",
      );
    } finally {
      db.close();
    }
    await server.close();
    await serve((_ops, reply, sock) => {
      reply([{ count: 1 }, { count: 1 }, { rows: [{ next_cfg: 5 }] }]);
      setTimeout(() => sock.destroy(), 20);
    });
    const db2 = await VswitchDb.open(dir, { timeoutMs: 5000 });
    const t0 = performance.now();
    const err = await rejected(
      db2.transact([mutateOp("Open_vSwitch", [], [])], { wait: true, what: "build" }),
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err.message).toMatch(/closed the connection.*while waiting for ovs-vswitchd to build/);
  });

  it("a database without its Open_vSwitch row is refused at open", async () => {
    server = new FakeServer(join(dir, "db.sock"));
    server.onRequest = (msg, sock) => sock.write(JSON.stringify({ id: msg.id, result: {}, error: null }));
    await server.listen();
    const err = await rejected(VswitchDb.open(dir, { timeoutMs: 500 }));
    expect(err.message).toMatch(/has no Open_vSwitch row: it was never initialised/);
  });
});
