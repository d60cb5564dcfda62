import { describe, expect, it } from "vitest";
import type { Flavor, SecurityGroup, ServerInfo } from "../../mediation/clouds/cloud-driver.ts";
import {
  type JournalResource,
  rateAndEta,
  recoveryFor,
  releasePlan,
  rollbackPlan,
} from "../../mediation/model/migration.ts";
import { matchFlavor } from "../../mediation/planner/flavor.ts";
import { precheck } from "../../mediation/planner/precheck.ts";
import { planSecurityGroups } from "../../mediation/planner/security.ts";

const flavors: Flavor[] = [
  { id: "1", name: "m1.small", vcpus: 1, ramMb: 2048, diskGb: 20 },
  { id: "2", name: "m1.tiny", vcpus: 1, ramMb: 512, diskGb: 1 },
  { id: "3", name: "m1.big", vcpus: 4, ramMb: 8192, diskGb: 40 },
];

const server: ServerInfo = {
  id: "s1",
  name: "vm1",
  status: "ACTIVE",
  flavor: { name: "src.tiny", vcpus: 1, ramMb: 512, diskGb: 1 },
  keyName: undefined,
  securityGroups: ["default", "cluster"],
  imageId: undefined,
  networks: ["private"],
  metadata: {},
};

const res = (
  seq: number,
  side: JournalResource["side"],
  kind: JournalResource["kind"],
  over: Partial<JournalResource> = {},
): JournalResource => ({
  seq,
  side,
  kind,
  name: `${kind}-${seq}`,
  id: `id-${seq}`,
  state: "present",
  owned: true,
  ...over,
});

describe("flavor matching", () => {
  it("takes the smallest flavor that fits, or the explicit mapping", () => {
    expect(matchFlavor(server.flavor, flavors, undefined)?.name).toBe("m1.tiny");
    expect(matchFlavor({ name: "x", vcpus: 2, ramMb: 512, diskGb: 1 }, flavors, undefined)?.name).toBe(
      "m1.big",
    );
    expect(matchFlavor({ name: "x", vcpus: 8, ramMb: 512, diskGb: 1 }, flavors, undefined)).toBeUndefined();
    expect(matchFlavor(server.flavor, flavors, "m1.small")?.id).toBe("1");
    expect(matchFlavor(server.flavor, flavors, "nope")).toBeUndefined();
  });
});

describe("security groups", () => {
  const rule = {
    direction: "ingress" as const,
    ethertype: "IPv4",
    protocol: "tcp",
    portMin: 22,
    portMax: 22,
    remoteIpPrefix: null,
  };
  const source: SecurityGroup[] = [
    { id: "a", name: "default", description: "", rules: [] },
    {
      id: "b",
      name: "cluster",
      description: "peers",
      rules: [
        { ...rule, remoteGroupName: "cluster" },
        { ...rule, remoteGroupName: "ops" },
      ],
    },
  ];
  it("reuses groups the target has by name, creates the others with their rules, and names missing remote groups", () => {
    const plan = planSecurityGroups(server.securityGroups, source, [
      { id: "t", name: "default", description: "", rules: [] },
    ]);
    expect(plan.reuse).toEqual(["default"]);
    expect(plan.create).toEqual([{ name: "cluster", description: "peers", rules: source[1]!.rules }]);
    expect(plan.missingRemotes).toEqual(["ops"]);
  });
});

describe("pre-checks", () => {
  const base = { sourceCloud: "a", targetCloud: "b", server: "vm1", member: "vm1" };
  it("passes a plan that fits", () => {
    const q = { limit: 10, used: 0 };
    const r = precheck({
      ...base,
      serverInfo: server,
      targetFlavors: flavors,
      quotas: { instances: q, cores: q, ramMb: { limit: 4096, used: 0 }, floatingIps: q, securityGroups: q },
      targetNetwork: { name: "private", found: true },
      memberKnown: true,
    });
    expect(r.problems).toEqual([]);
    expect(r.flavor?.name).toBe("m1.tiny");
  });

  it("names every problem at once", () => {
    const r = precheck({
      ...base,
      targetCloud: "a",
      serverInfo: { ...server, status: "SHUTOFF" },
      targetFlavors: [],
      quotas: {
        instances: { limit: 2, used: 2 },
        cores: { limit: -1, used: 0 },
        ramMb: { limit: -1, used: 0 },
        floatingIps: { limit: 1, used: 1 },
        securityGroups: { limit: -1, used: 0 },
      },
      targetNetwork: { name: "nets", found: false },
      memberKnown: false,
      missingRemoteGroups: ["ops"],
    });
    expect(r.problems.map((p) => p.field)).toEqual([
      "target.cloud",
      "server",
      "server",
      "target.cloud",
      "target.cloud",
      "target.network",
      "member",
      "server",
    ]);
    expect(r.problems.map((p) => p.message).join("\n")).toMatch(
      /SHUTOFF[\s\S]*quota of instances exceeded \(2 of 2 used[\s\S]*no network 'nets'[\s\S]*in no cluster/,
    );
  });

  it("reports unreachable clouds and controller without asking further", () => {
    const r = precheck({
      ...base,
      sourceAuthError: "HTTP 401",
      targetAuthError: "refused",
      controllerError: "ECONNREFUSED",
    });
    expect(r.problems).toEqual([
      { field: "source.cloud", message: "cloud 'a': HTTP 401" },
      { field: "target.cloud", message: "cloud 'b': refused" },
      { field: "member", message: "the controller cannot be asked: ECONNREFUSED" },
    ]);
  });
});

describe("the journal's undo and release plans", () => {
  const journal: JournalResource[] = [
    res(1, "source", "server", { owned: false }),
    res(2, "source", "floating_ip", { owned: false }),
    res(3, "source", "image"),
    res(4, "target", "security_group"),
    res(5, "target", "image", { state: "deleted" }),
    res(6, "target", "image"),
    res(7, "target", "server", { id: null, state: "creating" }),
    res(8, "target", "floating_ip"),
    res(9, "controller", "announcement", { state: "deleted" }),
    res(10, "controller", "rebind", { name: "198.51.100.7" }),
  ];

  it("rolls back the controller first, then what the migration created, newest first, never the source's own", () => {
    expect(rollbackPlan(journal)).toEqual([
      { do: "rebind_back", seq: 10, endpoint: "198.51.100.7" },
      { do: "delete", seq: 8, side: "target", kind: "floating_ip", id: "id-8", name: "floating_ip-8" },
      { do: "delete", seq: 7, side: "target", kind: "server", id: null, name: "server-7" },
      { do: "delete", seq: 6, side: "target", kind: "image", id: "id-6", name: "image-6" },
      { do: "delete", seq: 4, side: "target", kind: "security_group", id: "id-4", name: "security_group-4" },
      { do: "delete", seq: 3, side: "source", kind: "image", id: "id-3", name: "image-3" },
    ]);
    expect(rollbackPlan([res(1, "controller", "announcement")])).toEqual([{ do: "withdraw", seq: 1 }]);
  });

  it("releases the source's floating IP, server and snapshot, and nothing of the target", () => {
    expect(releasePlan(journal).map((a) => a.do === "delete" && `${a.side}:${a.kind}:${a.seq}`)).toEqual([
      "source:floating_ip:2",
      "source:server:1",
      "source:image:3",
    ]);
  });

  it("recovers by releasing past the commit point and rolling back before it", () => {
    expect(recoveryFor({ status: "running", committed: true })).toBe("release");
    expect(recoveryFor({ status: "running", committed: false })).toBe("rollback");
    expect(recoveryFor({ status: "rolling_back", committed: false })).toBe("rollback");
    expect(recoveryFor({ status: "succeeded", committed: true })).toBe("none");
  });

  it("computes rate and ETA", () => {
    expect(rateAndEta(50, 100, 0, 1000)).toEqual({ rate: 50, etaSeconds: 1 });
    expect(rateAndEta(0, 100, 0, 0)).toEqual({ rate: 0, etaSeconds: null });
    expect(rateAndEta(10, undefined, 0, 1000).etaSeconds).toBeNull();
  });
});
