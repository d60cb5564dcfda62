import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { clusterCookie, cookieFor, decodeCookie, ruleKind } from "../../controller/compiler/cookie.ts";
import { diffRules } from "../../controller/compiler/diff.ts";
import { compileCluster, compileSwitch } from "../../controller/compiler/flow-compiler.ts";
import { addFlowMod, batchFlowMods, deleteFlowMod } from "../../controller/compiler/flow-mod.ts";
import { formatRule } from "../../controller/compiler/format.ts";
import { checkRules } from "../../controller/compiler/pipeline.ts";
import type { Rule } from "../../controller/compiler/rule.ts";
import { planRebind, planTransition } from "../../controller/compiler/transition-planner.ts";
import { encodeMessage } from "../../proto/index.ts";
import { makeState } from "./support/fixtures.ts";

const two = makeState(42, [
  ["a", "198.18.0.1", "192.0.2.10"],
  ["b", "198.18.0.2", "198.51.100.20"],
]);

const three = makeState(42, [
  ["a", "198.18.0.1", "192.0.2.10"],
  ["b", "198.18.0.2", "198.51.100.20"],
  ["c", "198.18.0.3", "203.0.113.30"],
]);

const text = (rules: readonly Rule[]) => rules.map(formatRule);

describe("FlowCompiler", () => {
  it("gives each member of a 2-member cluster egress (IP, ARP), ingress and a table-miss drop", () => {
    expect(text(compileSwitch(two, "a"))).toEqual([
      "cookie=0x1c00002a01000000,table=0,priority=100,ip,in_port=2,nw_dst=198.18.0.2 actions=set_field:198.51.100.20->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a02000000,table=0,priority=100,arp,in_port=2,arp_tpa=198.18.0.2 actions=set_field:198.51.100.20->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=198.51.100.20 actions=output:2",
      "cookie=0x1c00002a04000000,table=0,priority=0 actions=drop",
    ]);
    expect(text(compileSwitch(two, "b"))).toEqual([
      "cookie=0x1c00002a01000000,table=0,priority=100,ip,in_port=2,nw_dst=198.18.0.1 actions=set_field:192.0.2.10->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a02000000,table=0,priority=100,arp,in_port=2,arp_tpa=198.18.0.1 actions=set_field:192.0.2.10->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=192.0.2.10 actions=output:2",
      "cookie=0x1c00002a04000000,table=0,priority=0 actions=drop",
    ]);
  });

  it("gives a peer with an unknown endpoint no rule at all, and ignores the member's own endpoint", () => {
    const state = makeState(7, [
      ["a", "198.18.0.1", null],
      ["b", "198.18.0.2", null],
      ["c", "198.18.0.3", "203.0.113.30"],
    ]);
    const a = text(compileSwitch(state, "a"));
    expect(a).toHaveLength(4);
    expect(a.join("\n")).not.toContain("198.18.0.2");
    expect(a.join("\n")).toContain("tun_src=203.0.113.30");
    // c's switch: nobody to talk to.
    expect(text(compileSwitch(state, "c"))).toEqual([
      "cookie=0x1c00000704000000,table=0,priority=0 actions=drop",
    ]);
  });

  it("gives peers of a member with an announced next endpoint its ingress, and ARP to both endpoints", () => {
    const state = makeState(42, [
      ["a", "198.18.0.1", "192.0.2.10", "203.0.113.77"],
      ["b", "198.18.0.2", "198.51.100.20"],
    ]);
    expect(text(compileSwitch(state, "b"))).toEqual([
      "cookie=0x1c00002a01000000,table=0,priority=100,ip,in_port=2,nw_dst=198.18.0.1 actions=set_field:192.0.2.10->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a02000000,table=0,priority=100,arp,in_port=2,arp_tpa=198.18.0.1 actions=set_field:192.0.2.10->tun_dst,set_field:0x2a->tun_id,output:1,set_field:203.0.113.77->tun_dst,output:1",
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=192.0.2.10 actions=output:2",
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=203.0.113.77 actions=output:2",
      "cookie=0x1c00002a04000000,table=0,priority=0 actions=drop",
    ]);
    // Its own switch is unchanged by its announcement.
    expect(text(compileSwitch(state, "a"))).toEqual(text(compileSwitch(two, "a")));
    // Only ARP egress may send to two tunnels.
    const ip = compileSwitch(state, "b")[0]!;
    const arp = compileSwitch(state, "b")[1]!;
    expect(
      checkRules([{ ...ip, instructions: arp.instructions }, compileSwitch(state, "b").at(-1)!]),
    ).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/only ARP egress sends to more than one tunnel/),
      }),
    ]);
  });

  it("orders switches by dpid and refuses an unknown member", () => {
    expect(compileCluster(three).map((s) => s.vmId)).toEqual(["a", "b", "c"]);
    expect(() => compileSwitch(three, "zz")).toThrow(/no member 'zz'/);
  });
});

describe("cookies", () => {
  it("carry the cluster tag in the high 32 bits and the kind below", () => {
    expect(cookieFor(42, "ingress")).toBe(0x1c00_002a_0300_0000n);
    expect(clusterCookie(42)).toBe(0x1c00_002a_0000_0000n);
    expect(decodeCookie(cookieFor(0xffffff, "table-miss"))).toEqual({ vni: 0xffffff, kind: "table-miss" });
    expect(decodeCookie(0n)).toBeUndefined();
    expect(decodeCookie(0x1d00_002a_0100_0000n)).toBeUndefined();
    expect(decodeCookie(0x1c00_002a_0100_0001n)).toBeUndefined();
    expect(decodeCookie(0x1c00_002a_0900_0000n)).toBeUndefined();
    expect(compileSwitch(two, "a").map(ruleKind)).toEqual([
      "egress-ip",
      "egress-arp",
      "ingress",
      "table-miss",
    ]);
  });
});

describe("pipeline checker", () => {
  const good = compileSwitch(two, "a");
  const [egress, , ingress] = good as [Rule, Rule, Rule, Rule];
  const miss = good[3]!;
  const violations = (rules: Rule[]) => checkRules(rules).map((v) => v.message);

  it("accepts what the compiler produces", () => {
    expect(checkRules(good)).toEqual([]);
  });

  it.each<[string, (r: Rule) => Rule, RegExp]>([
    [
      "a masked field",
      (r) => ({
        ...r,
        match: [...r.match.slice(0, 2), { field: "IPV4_DST", value: "198.18.0.0", mask: "255.255.255.0" }],
      }),
      /masked/,
    ],
    [
      "a missing prerequisite",
      (r) => ({ ...r, match: r.match.filter((f) => f.field !== "ETH_TYPE") }),
      /IPV4_DST requires ETH_TYPE=0x800/,
    ],
    [
      "a field the table does not match",
      (r) => ({ ...r, match: [...r.match, { field: "TCP_DST", value: 80 }] }),
      /TCP_DST is not allowed/,
    ],
    ["a foreign cookie", (r) => ({ ...r, cookie: 0n }), /not an icsdn cookie/],
    [
      "an output to enc0 without a tunnel destination",
      (r) => ({
        ...r,
        instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: 1, maxLen: 0 }] }],
      }),
      /needs SET_FIELD TUN_IPV4_DST/,
    ],
    [
      "an output to a port we do not own",
      (r) => ({
        ...r,
        instructions: [{ kind: "APPLY_ACTIONS", actions: [{ kind: "OUTPUT", port: 3, maxLen: 0 }] }],
      }),
      /port 3 is not allowed/,
    ],
    [
      "an action after the output",
      (r) => ({
        ...r,
        instructions: [
          {
            kind: "APPLY_ACTIONS",
            actions: [
              { kind: "SET_FIELD", oxm: { field: "TUN_IPV4_DST", value: "192.0.2.1" } },
              { kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value: 42n } },
              { kind: "OUTPUT", port: 1, maxLen: 0 },
              { kind: "SET_FIELD", oxm: { field: "TUNNEL_ID", value: 43n } },
            ],
          },
        ],
      }),
      /OUTPUT must be the last action/,
    ],
    [
      "a SET_FIELD the table may not write",
      (r) => ({
        ...r,
        instructions: [
          {
            kind: "APPLY_ACTIONS",
            actions: [
              { kind: "SET_FIELD", oxm: { field: "ETH_DST", value: "02:00:00:00:00:01" } },
              { kind: "OUTPUT", port: 2, maxLen: 0 },
            ],
          },
        ],
      }),
      /SET_FIELD ETH_DST is not allowed/,
    ],
    [
      "a GOTO_TABLE",
      (r) => ({ ...r, instructions: [{ kind: "GOTO_TABLE", tableId: 1 }] }),
      /GOTO_TABLE 1 is not allowed/,
    ],
    ["a drop that is not the table-miss", (r) => ({ ...r, instructions: [] }), /only for the table-miss/],
    ["an unknown table", (r) => ({ ...r, tableId: 3 }), /table 3 is not in the pipeline/],
  ])("refuses %s", (_name, mutate, expected) => {
    expect(violations([mutate(egress), ingress, miss]).join("\n")).toMatch(expected);
  });

  it("refuses tunnel metadata matched on packets not from enc0", () => {
    const bad: Rule = {
      ...ingress,
      match: ingress.match.map((f) => (f.field === "IN_PORT" ? { ...f, value: 2 } : f)),
    };
    expect(violations([bad, miss]).join("\n")).toMatch(/TUN_IPV4_SRC requires IN_PORT=0x1/);
  });

  it("refuses two rules with one identity, and anything but one table-miss", () => {
    expect(violations([egress, egress, miss])).toContain("same table, priority and match as rule 0");
    expect(violations([egress])).toContain("table 0 has 0 table-miss rules, expected 1");
    expect(violations([miss, { ...miss, cookie: cookieFor(43, "table-miss") }])).toContain(
      "table 0 has 2 table-miss rules, expected 1",
    );
  });
});

describe("diffRules", () => {
  const a = compileSwitch(two, "a");

  it("is empty for equal sets, whatever order the switch reports rules and match fields in", () => {
    const reported = [...a].reverse().map((r) => ({ ...r, match: [...r.match].reverse() }));
    expect(diffRules(reported, a)).toEqual({ add: [], delete: [] });
  });

  it("turns a changed action into one ADD (an overwrite), never a delete", () => {
    const moved = compileSwitch(
      makeState(42, [
        ["a", "198.18.0.1", "192.0.2.10"],
        ["b", "198.18.0.2", "203.0.113.99"],
      ]),
      "a",
    );
    const diff = diffRules(a, moved);
    expect(text(diff.add)).toEqual([
      "cookie=0x1c00002a01000000,table=0,priority=100,ip,in_port=2,nw_dst=198.18.0.2 actions=set_field:203.0.113.99->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a02000000,table=0,priority=100,arp,in_port=2,arp_tpa=198.18.0.2 actions=set_field:203.0.113.99->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=203.0.113.99 actions=output:2",
    ]);
    expect(text(diff.delete)).toEqual([
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=198.51.100.20 actions=output:2",
    ]);
  });

  it("re-adds a rule whose cookie is foreign and deletes rules nobody wants", () => {
    const foreign: Rule = { ...a[0]!, cookie: 0n };
    const stray: Rule = {
      tableId: 0,
      priority: 5,
      cookie: 0n,
      match: [{ field: "IN_PORT", value: 7 }],
      instructions: [],
    };
    const diff = diffRules([foreign, ...a.slice(1), stray], a);
    expect(diff.add).toEqual([a[0]]);
    expect(diff.delete).toEqual([stray]);
  });
});

describe("rebind planner", () => {
  it("moves a member in three phases: accept new, send to new, stop accepting old", () => {
    const plan = planRebind(three, "a", "203.0.113.77");
    const shown = plan.map((p) => ({
      phase: p.name,
      batches: p.batches.map((b) => ({
        vmId: b.vmId,
        fresh: b.fresh,
        add: text(b.add),
        delete: text(b.delete),
      })),
    }));
    const ingressNew =
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=203.0.113.77 actions=output:2";
    const ingressOld =
      "cookie=0x1c00002a03000000,table=0,priority=100,in_port=1,tun_id=0x2a,tun_src=192.0.2.10 actions=output:2";
    const egressNew = [
      "cookie=0x1c00002a01000000,table=0,priority=100,ip,in_port=2,nw_dst=198.18.0.1 actions=set_field:203.0.113.77->tun_dst,set_field:0x2a->tun_id,output:1",
      "cookie=0x1c00002a02000000,table=0,priority=100,arp,in_port=2,arp_tpa=198.18.0.1 actions=set_field:203.0.113.77->tun_dst,set_field:0x2a->tun_id,output:1",
    ];
    expect(shown).toEqual([
      {
        phase: "prepare",
        batches: [
          { vmId: "a", fresh: true, add: text(compileSwitch(three, "a")), delete: [] },
          { vmId: "b", fresh: false, add: [ingressNew], delete: [] },
          { vmId: "c", fresh: false, add: [ingressNew], delete: [] },
        ],
      },
      {
        phase: "switch",
        batches: [
          { vmId: "b", fresh: false, add: egressNew, delete: [] },
          { vmId: "c", fresh: false, add: egressNew, delete: [] },
        ],
      },
      {
        phase: "cleanup",
        batches: [
          { vmId: "b", fresh: false, add: [], delete: [ingressOld] },
          { vmId: "c", fresh: false, add: [], delete: [ingressOld] },
        ],
      },
    ]);
    expect(plan[0].batches[0]!.endpoint).toBe("203.0.113.77");
  });

  it("has nothing to clean up when the member had no endpoint yet", () => {
    const state = makeState(42, [
      ["a", "198.18.0.1", null],
      ["b", "198.18.0.2", "198.51.100.20"],
    ]);
    const plan = planRebind(state, "a", "192.0.2.10");
    expect(plan.map((p) => p.batches.map((b) => `${b.vmId}+${b.add.length}-${b.delete.length}`))).toEqual([
      ["a+4-0", "b+1-0"],
      ["b+2-0"],
      [],
    ]);
  });

  it("removes a member by first stopping traffic to it, then its ingress", () => {
    const after = { ...three, members: three.members.filter((m) => m.vmId !== "c") };
    const plan = planTransition(three, after, new Set());
    expect(plan.map((p) => p.batches.map((b) => `${b.vmId}+${b.add.length}-${b.delete.length}`))).toEqual([
      [],
      ["a+0-2", "b+0-2"],
      ["a+0-1", "b+0-1"],
    ]);
  });
});

describe("FLOW_MOD adapter", () => {
  it("builds ADDs and strict, cookie-exact DELETEs, adds first", () => {
    const rule = compileSwitch(two, "a")[2]!;
    expect(addFlowMod(rule, 5)).toMatchObject({
      type: "FLOW_MOD",
      xid: 5,
      command: "ADD",
      cookie: rule.cookie,
      cookieMask: 0n,
    });
    expect(deleteFlowMod(rule, 6)).toMatchObject({
      command: "DELETE_STRICT",
      cookieMask: 0xffff_ffff_ffff_ffffn,
      instructions: [],
      match: rule.match,
    });
    let xid = 100;
    const mods = batchFlowMods({ add: [rule], delete: [rule] }, () => xid++);
    expect(mods.map((m) => [m.command, m.xid])).toEqual([
      ["ADD", 100],
      ["DELETE_STRICT", 101],
    ]);
  });

  const ovs = spawnSync("ovs-ofctl", ["--version"]).status === 0;
  it.skipIf(!ovs)(
    "encodes every compiled rule as OVS itself encodes its text form (ovs-ofctl oracle)",
    () => {
      const ofctl = (...args: string[]) => {
        const res = spawnSync("ovs-ofctl", args, { encoding: "utf8" });
        expect(res.stderr, res.stderr).not.toMatch(/WARN|ERR/);
        return res.stdout;
      };
      const afterHeader = (s: string) => s.slice(s.indexOf("):") + 2).trim();
      for (const rule of compileSwitch(three, "a")) {
        const ours = ofctl("ofp-print", Buffer.from(encodeMessage(addFlowMod(rule, 1))).toString("hex"));
        const theirs = ofctl("-O", "OpenFlow13", "parse-flow", formatRule(rule));
        expect(ours).not.toContain("***");
        expect(afterHeader(ours)).toBe(
          afterHeader(theirs.split("\n").find((l) => l.includes("OFPT_FLOW_MOD"))!),
        );
        const del = ofctl("ofp-print", Buffer.from(encodeMessage(deleteFlowMod(rule, 2))).toString("hex"));
        expect(del).toContain("DEL_STRICT");
        expect(del).toContain(`cookie:0x${rule.cookie.toString(16)}/0xffffffffffffffff`);
      }
    },
  );
});
