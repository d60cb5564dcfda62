import { describe, expect, it } from "vitest";
import type { Flavor, Quotas, SecurityGroup, ServerInfo } from "../../mediation/clouds/cloud-driver.ts";
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

// The planner's and the model's edges, where mutation testing found them untested: the
// boundaries of "fits" and "quota left", each problem's exact field and message, and which
// resources an undo or a release touches (a wrong one deletes a live VM, or leaves a tunnel
// pointing at a deleted one).
// Equivalent mutant, left alive on purpose: releasePlan without its isCloudResource filter (the
// source side and the floating IP, server and image kinds it keeps are cloud resources anyway).

const flavor = (id: string, name: string, vcpus: number, ramMb: number, diskGb: number): Flavor => ({
  id,
  name,
  vcpus,
  ramMb,
  diskGb,
});

const server: ServerInfo = {
  id: "s1",
  name: "vm1",
  status: "ACTIVE",
  flavor: { name: "src", vcpus: 2, ramMb: 1024, diskGb: 10 },
  keyName: undefined,
  securityGroups: ["default"],
  imageId: undefined,
  networks: ["private"],
  metadata: {},
};

describe("flavor matching", () => {
  it("takes a flavor equal to the source in every dimension", () => {
    const exact = flavor("e", "exact", 2, 1024, 10);
    expect(matchFlavor(server.flavor, [exact], undefined)).toBe(exact);
  });

  it.each([
    ["vCPUs", flavor("x", "x", 1, 4096, 100)],
    ["RAM", flavor("x", "x", 8, 1023, 100)],
    ["disk", flavor("x", "x", 8, 4096, 9)],
  ])("refuses a flavor short of %s", (_what, short) => {
    expect(matchFlavor(server.flavor, [short], undefined)).toBeUndefined();
  });

  it("prefers fewer vCPUs, then less RAM, then less disk, then the name", () => {
    const pick = (...c: Flavor[]) => matchFlavor(server.flavor, c, undefined)?.id;
    expect(pick(flavor("a", "a", 4, 1024, 10), flavor("b", "b", 2, 8192, 80))).toBe("b");
    expect(pick(flavor("a", "a", 2, 2048, 10), flavor("b", "b", 2, 1024, 80))).toBe("b");
    expect(pick(flavor("a", "a", 2, 1024, 20), flavor("b", "b", 2, 1024, 10))).toBe("b");
    expect(pick(flavor("a", "zz", 2, 1024, 10), flavor("b", "aa", 2, 1024, 10))).toBe("b");
    expect(pick(flavor("b", "aa", 2, 1024, 10), flavor("a", "zz", 2, 1024, 10))).toBe("b");
  });

  it("takes a mapped flavor by name or id even if it is smaller, and nothing else", () => {
    const tiny = flavor("7", "m1.tiny", 1, 512, 1);
    const big = flavor("8", "m1.big", 8, 8192, 80);
    expect(matchFlavor(server.flavor, [big, tiny], "m1.tiny")).toBe(tiny);
    expect(matchFlavor(server.flavor, [big, tiny], "7")).toBe(tiny);
    expect(matchFlavor(server.flavor, [big, tiny], "m1.small")).toBeUndefined();
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
  const group = (name: string, remotes: (string | null)[]): SecurityGroup => ({
    id: `id-${name}`,
    name,
    description: `${name} group`,
    rules: remotes.map((remoteGroupName) => ({ ...rule, remoteGroupName })),
  });

  it("skips a server group the source does not list, and needs no remote a plan or the target provides", () => {
    const source = [group("web", ["db", "web", null, "ops"]), group("db", ["ops"]), group("unused", ["x"])];
    const plan = planSecurityGroups(["web", "db", "ghost", "default"], source, [group("default", [])]);
    expect(plan.create.map((c) => c.name)).toEqual(["web", "db"]);
    expect(plan.create[0]).toEqual({ name: "web", description: "web group", rules: source[0]!.rules });
    expect(plan.reuse).toEqual(["default"]);
    // "ops" is named twice, listed once; "db" and "web" are created, "x" is not the server's.
    expect(plan.missingRemotes).toEqual(["ops"]);
  });

  it("takes a remote group the target has as provided, and a plan of reused groups needs nothing", () => {
    const plan = planSecurityGroups(["web"], [group("web", ["ops"])], [group("ops", [])]);
    expect(plan.missingRemotes).toEqual([]);
    expect(planSecurityGroups(["web"], [group("web", ["ops"])], [group("web", [])])).toEqual({
      create: [],
      reuse: ["web"],
      missingRemotes: [],
    });
  });
});

describe("pre-checks", () => {
  const base = { sourceCloud: "a", targetCloud: "b", server: "vm1", member: "vm1" };
  const plenty = { limit: 100, used: 0 };
  const quotas = (over: Partial<Quotas>): Quotas => ({
    instances: plenty,
    cores: plenty,
    ramMb: { limit: 100_000, used: 0 },
    floatingIps: plenty,
    securityGroups: plenty,
    ...over,
  });
  const fits = flavor("f", "m1.fit", 2, 1024, 10);
  const withQuotas = (q: Partial<Quotas>) =>
    precheck({ ...base, serverInfo: server, targetFlavors: [fits], quotas: quotas(q) }).problems;

  it("finds nothing wrong when nothing was looked up", () => {
    expect(precheck(base)).toEqual({ problems: [], flavor: undefined });
  });

  it("names a missing server, a missing mapped flavor and a missing fitting flavor", () => {
    expect(precheck({ ...base, serverInfo: null }).problems).toEqual([
      { field: "server", message: "cloud 'a' has no server 'vm1'" },
    ]);
    expect(
      precheck({ ...base, serverInfo: server, targetFlavors: [fits], mappedFlavor: "m1.huge" }).problems,
    ).toEqual([{ field: "flavor", message: "cloud 'b' has no flavor 'm1.huge'" }]);
    expect(precheck({ ...base, serverInfo: server, targetFlavors: [] }).problems).toEqual([
      {
        field: "server",
        message: "cloud 'b' has no flavor with at least 2 vCPUs, 1024 MB RAM and 10 GB disk",
      },
    ]);
    expect(precheck({ ...base, serverInfo: server, targetFlavors: [fits] }).flavor).toBe(fits);
  });

  it("takes exactly what is left of a quota, and an unlimited (-1) one", () => {
    expect(
      withQuotas({
        instances: { limit: 3, used: 2 },
        floatingIps: { limit: 1, used: 0 },
        cores: { limit: 4, used: 2 },
        ramMb: { limit: 2048, used: 1024 },
      }),
    ).toEqual([]);
    expect(withQuotas({ instances: { limit: -1, used: 50 }, cores: { limit: -1, used: 9 } })).toEqual([]);
  });

  it("names each exhausted quota with what is used and needed, a zero limit included", () => {
    expect(
      withQuotas({
        instances: { limit: 0, used: 0 },
        floatingIps: { limit: 2, used: 2 },
        cores: { limit: 3, used: 2 },
        ramMb: { limit: 2047, used: 1024 },
      }),
    ).toEqual([
      {
        field: "target.cloud",
        message: "cloud 'b': quota of instances exceeded (0 of 0 used, 1 more needed)",
      },
      {
        field: "target.cloud",
        message: "cloud 'b': quota of floating IPs exceeded (2 of 2 used, 1 more needed)",
      },
      { field: "target.cloud", message: "cloud 'b': quota of cores exceeded (2 of 3 used, 2 more needed)" },
      {
        field: "target.cloud",
        message: "cloud 'b': quota of RAM (MB) exceeded (1024 of 2047 used, 1024 more needed)",
      },
    ]);
  });

  it("checks cores and RAM only once a flavor is known", () => {
    const tight = quotas({ cores: { limit: 0, used: 0 }, ramMb: { limit: 0, used: 0 } });
    expect(precheck({ ...base, serverInfo: server, targetFlavors: [], quotas: tight }).problems).toHaveLength(
      1,
    );
    expect(precheck({ ...base, quotas: tight }).problems).toEqual([]);
  });

  it("names a missing network, and a known one is fine", () => {
    expect(precheck({ ...base, targetNetwork: { name: "private", found: true } }).problems).toEqual([]);
    expect(precheck({ ...base, targetNetwork: { name: "nets", found: false } }).problems).toEqual([
      { field: "target.network", message: "cloud 'b' has no network 'nets'" },
    ]);
  });

  it("asks about the member only when the controller answered, and names a lacking remote group", () => {
    expect(precheck({ ...base, controllerError: "down", memberKnown: false }).problems).toEqual([
      { field: "member", message: "the controller cannot be asked: down" },
    ]);
    expect(precheck({ ...base, memberKnown: false }).problems).toEqual([
      { field: "member", message: "member 'vm1' is in no cluster the controller knows" },
    ]);
    expect(precheck({ ...base, memberKnown: true }).problems).toEqual([]);
    expect(precheck({ ...base, missingRemoteGroups: ["ops"] }).problems).toEqual([
      {
        field: "server",
        message:
          "a security group rule admits group 'ops', which cloud 'b' lacks and the server does not use",
      },
    ]);
  });

  it("names a source that is the target, and a server that is not active", () => {
    expect(precheck({ ...base, targetCloud: "a" }).problems).toEqual([
      { field: "target.cloud", message: "the target cloud is the source cloud" },
    ]);
    expect(precheck({ ...base, serverInfo: { ...server, status: "ERROR" } }).problems).toEqual([
      { field: "server", message: "server 'vm1' is ERROR, not ACTIVE" },
    ]);
  });

  it("names a disk the target cannot take, and lets a conversion or an accepted format pass", () => {
    expect(
      precheck({ ...base, imageFormat: { kind: "refused", reason: "the target accepts iso" } }).problems,
    ).toEqual([
      {
        field: "target.cloud",
        message: "cloud 'b' cannot take the disk of server 'vm1': the target accepts iso",
      },
    ]);
    expect(
      precheck({ ...base, imageFormat: { kind: "convert", from: "raw", to: "qcow2" } }).problems,
    ).toEqual([]);
    expect(precheck({ ...base, imageFormat: { kind: "as_is", format: "raw" } }).problems).toEqual([]);
  });
});

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

describe("undo and release plans", () => {
  it("undoes rebinds newest first, then withdraws announcements, before any cloud resource", () => {
    expect(
      rollbackPlan([
        res(1, "target", "server"),
        res(2, "controller", "announcement"),
        res(3, "controller", "rebind", { name: "192.0.2.1" }),
        res(4, "controller", "rebind", { name: "192.0.2.2" }),
        res(5, "controller", "announcement"),
        res(6, "controller", "rebind", { name: "192.0.2.3", state: "deleted" }),
      ]),
    ).toEqual([
      { do: "rebind_back", seq: 4, endpoint: "192.0.2.2" },
      { do: "rebind_back", seq: 3, endpoint: "192.0.2.1" },
      { do: "withdraw", seq: 5 },
      { do: "withdraw", seq: 2 },
      { do: "delete", seq: 1, side: "target", kind: "server", id: "id-1", name: "server-1" },
    ]);
  });

  it("deletes only live cloud resources the migration owns, a creating one included", () => {
    expect(
      rollbackPlan([
        res(1, "source", "server", { owned: false }),
        res(2, "target", "keypair", { state: "creating", id: null }),
        res(3, "target", "image", { state: "deleted" }),
      ]),
    ).toEqual([{ do: "delete", seq: 2, side: "target", kind: "keypair", id: null, name: "keypair-2" }]);
    expect(rollbackPlan([])).toEqual([]);
  });

  it("never deletes a controller effect in a cloud, nor a controller-side record, however written", () => {
    expect(
      rollbackPlan([
        res(1, "target", "rebind", { name: "192.0.2.1" }),
        res(2, "source", "announcement"),
        res(3, "controller", "server"),
      ]),
    ).toEqual([
      { do: "rebind_back", seq: 1, endpoint: "192.0.2.1" },
      { do: "withdraw", seq: 2 },
    ]);
  });

  it("releases the source's floating IP, server and image in that order, owned or not, never anything else", () => {
    expect(
      releasePlan([
        res(1, "source", "image"),
        res(2, "source", "server", { owned: false }),
        res(3, "source", "security_group"),
        res(4, "source", "floating_ip", { owned: false }),
        res(5, "source", "floating_ip", { state: "deleted" }),
        res(6, "target", "server"),
        res(7, "controller", "announcement"),
        res(8, "source", "keypair"),
      ]),
    ).toEqual([
      { do: "delete", seq: 4, side: "source", kind: "floating_ip", id: "id-4", name: "floating_ip-4" },
      { do: "delete", seq: 2, side: "source", kind: "server", id: "id-2", name: "server-2" },
      { do: "delete", seq: 1, side: "source", kind: "image", id: "id-1", name: "image-1" },
    ]);
  });

  it("leaves every ended migration alone after a restart, committed or not", () => {
    for (const status of ["succeeded", "failed", "cancelled"] as const) {
      expect(recoveryFor({ status, committed: false })).toBe("none");
      expect(recoveryFor({ status, committed: true })).toBe("none");
    }
    // A rollback already under way goes on, even past the commit point.
    expect(recoveryFor({ status: "rolling_back", committed: true })).toBe("rollback");
  });

  it("gives no negative ETA once more than the total flowed, and no rate before time passed", () => {
    expect(rateAndEta(150, 100, 0, 1000)).toEqual({ rate: 150, etaSeconds: 0 });
    expect(rateAndEta(100, 400, 1000, 3000)).toEqual({ rate: 50, etaSeconds: 6 });
    expect(rateAndEta(100, 400, 3000, 1000)).toEqual({ rate: 0, etaSeconds: null });
  });
});
