import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SecurityGroup } from "../../mediation/clouds/cloud-driver.ts";
import { type MemberState, type SharedResource, sharedRelease } from "../../mediation/model/cluster.ts";
import { type MemberNeed, planSharedResources } from "../../mediation/planner/shared-resources.ts";

const rule = (port: number) => ({
  direction: "ingress" as const,
  ethertype: "IPv4",
  protocol: "tcp",
  portMin: port,
  portMax: port,
  remoteIpPrefix: "0.0.0.0/0",
  remoteGroupName: null,
});
const group = (name: string, port = 22): SecurityGroup => ({
  id: `id-${name}`,
  name,
  description: `${name} group`,
  rules: [rule(port)],
});
const need = (over: Partial<MemberNeed> = {}): MemberNeed => ({
  sourceCloud: "a",
  targetCloud: "b",
  securityGroups: ["web", "default"],
  keyName: "k",
  ...over,
});

describe("the shared target resources of a cluster migration (pure)", () => {
  it("plans a group and a key pair two members need once, and nothing the target has", () => {
    const plans = planSharedResources([need(), need()], {
      sourceGroups: new Map([["a", [group("web", 80), group("default")]]]),
      targetGroups: new Map([["b", [group("default")]]]),
      targetKeyPairs: new Map([["b", new Set<string>()]]),
    });
    expect(plans).toEqual([
      {
        cloud: "b",
        groups: [{ name: "web", description: "web group", rules: [rule(80)] }],
        keyPairs: [{ name: "k", sourceCloud: "a" }],
      },
    ]);
  });

  it("plans per target cloud, and leaves out a cloud that lacks nothing", () => {
    const plans = planSharedResources(
      [
        need({ targetCloud: "b" }),
        need({ targetCloud: "c" }),
        need({ targetCloud: "d", keyName: undefined }),
      ],
      {
        sourceGroups: new Map([["a", [group("web"), group("default")]]]),
        targetGroups: new Map([
          ["b", [group("default")]],
          ["c", [group("default"), group("web")]],
          ["d", [group("default"), group("web")]],
        ]),
        targetKeyPairs: new Map([
          ["b", new Set<string>()],
          ["c", new Set(["k"])],
        ]),
      },
    );
    expect(plans.map((p) => [p.cloud, p.groups.map((g) => g.name), p.keyPairs.map((k) => k.name)])).toEqual([
      ["b", ["web"], ["k"]],
    ]);
  });

  it("property: each missing name is planned exactly once per target, from the first member whose source has it", () => {
    const names = fc.constantFrom("g1", "g2", "g3", "default");
    const needArb = fc.record({
      sourceCloud: fc.constantFrom("a", "x"),
      targetCloud: fc.constantFrom("b", "c"),
      securityGroups: fc.uniqueArray(names, { maxLength: 4 }),
      keyName: fc.option(fc.constantFrom("k1", "k2"), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(needArb, { maxLength: 6 }),
        fc.uniqueArray(names, { maxLength: 4 }),
        fc.uniqueArray(names, { maxLength: 4 }),
        fc.uniqueArray(fc.constantFrom("k1", "k2"), { maxLength: 2 }),
        (needs, inSourceA, inTarget, keysInTarget) => {
          const facts = {
            // Source x has every group, with other rules: the first member's source wins.
            sourceGroups: new Map([
              ["a", inSourceA.map((n) => group(n, 22))],
              ["x", ["g1", "g2", "g3", "default"].map((n) => group(n, 443))],
            ]),
            targetGroups: new Map([
              ["b", inTarget.map((n) => group(n))],
              ["c", [] as SecurityGroup[]],
            ]),
            targetKeyPairs: new Map([
              ["b", new Set(keysInTarget)],
              ["c", new Set<string>()],
            ]),
          };
          const plans = planSharedResources(needs, facts);
          for (const cloud of ["b", "c"]) {
            const plan = plans.find((p) => p.cloud === cloud);
            const has = new Set(facts.targetGroups.get(cloud)!.map((g) => g.name));
            const hasKeys = facts.targetKeyPairs.get(cloud)!;
            const mine = needs.filter((n) => n.targetCloud === cloud);
            const wanted = new Map<string, number>();
            for (const n of mine)
              for (const g of n.securityGroups) {
                const src = facts.sourceGroups.get(n.sourceCloud)!.find((s) => s.name === g);
                if (src && !has.has(g) && !wanted.has(g)) wanted.set(g, src.rules[0]!.portMin!);
              }
            const groups = plan?.groups ?? [];
            expect(groups.map((g) => g.name).sort()).toEqual([...wanted.keys()].sort());
            for (const g of groups) expect(g.rules[0]!.portMin).toBe(wanted.get(g.name));
            const keys = new Set(
              mine.flatMap((n) => (n.keyName && !hasKeys.has(n.keyName) ? [n.keyName] : [])),
            );
            expect((plan?.keyPairs ?? []).map((k) => k.name).sort()).toEqual([...keys].sort());
          }
        },
      ),
    );
  });

  const res = (seq: number, cloud: string, state: SharedResource["state"] = "present"): SharedResource => ({
    seq,
    cloud,
    kind: seq % 2 === 0 ? "keypair" : "security_group",
    name: `r${seq}`,
    id: state === "creating" ? null : `id${seq}`,
    state,
  });

  it("deletes them only where no member arrived, newest first, after the members ended", () => {
    const resources = [res(1, "b"), res(2, "b", "creating"), res(3, "c"), res(4, "c", "deleted")];
    const on = (b: MemberState, c: MemberState) => [
      { targetCloud: "b", state: b },
      { targetCloud: "c", state: c },
    ];
    // Atomic rollback, or every member failed: all, a crash's `creating` one too.
    expect(sharedRelease(resources, on("failed", "pending")).map((r) => r.seq)).toEqual([3, 2, 1]);
    // Rolling: the member on c arrived, c keeps its group.
    expect(sharedRelease(resources, on("failed", "done")).map((r) => r.seq)).toEqual([2, 1]);
    expect(sharedRelease(resources, on("done", "done"))).toEqual([]);
  });

  it("property: never deletes in a cloud where a member is neither failed nor pending", () => {
    const states: MemberState[] = [
      "pending",
      "preparing",
      "verified",
      "rebinding",
      "rebound",
      "releasing",
      "done",
      "failed",
    ];
    fc.assert(
      fc.property(
        fc.array(fc.record({ targetCloud: fc.constantFrom("b", "c"), state: fc.constantFrom(...states) })),
        (members) => {
          const released = sharedRelease([res(1, "b"), res(2, "c")], members);
          for (const r of released)
            expect(
              members.some((m) => m.targetCloud === r.cloud && !["failed", "pending"].includes(m.state)),
            ).toBe(false);
          expect(released).toHaveLength(
            ["b", "c"].filter((c) =>
              members.every((m) => m.targetCloud !== c || ["failed", "pending"].includes(m.state)),
            ).length,
          );
        },
      ),
    );
  });
});
