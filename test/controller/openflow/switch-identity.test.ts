import { afterEach, describe, expect, it, vi } from "vitest";
import { HandshakeFailureLog } from "../../../controller/openflow/handshake-failures.ts";
import { MemoryLog } from "../../../controller/openflow/log.ts";
import { MemberBindings } from "../../../controller/openflow/member-bindings.ts";
import {
  admitSwitch,
  certificateMember,
  identityRefused,
  memberUri,
} from "../../../controller/openflow/switch-identity.ts";
import { decodeMessage, encodeMessage, OFPET, OFPHFC } from "../../../proto/index.ts";

const vm1 = { clusterId: "web", vmId: "vm1" };
const vm2 = { clusterId: "web", vmId: "vm2" };

describe("certificateMember", () => {
  it("reads the member from the URI SAN pki issue writes", () => {
    expect(certificateMember(`URI:${memberUri(vm1)}`)).toEqual({ kind: "member", member: vm1 });
    expect(certificateMember("DNS:vm1, URI:urn:icsdn:member:db-2/a-b-c, IP Address:10.0.0.1")).toEqual({
      kind: "member",
      member: { clusterId: "db-2", vmId: "a-b-c" },
    });
  });

  it("finds no member in certificates without one (old ones: DNS:vm1, CN=vm1)", () => {
    expect(certificateMember(undefined)).toEqual({ kind: "none" });
    expect(certificateMember("DNS:vm1")).toEqual({ kind: "none" });
    expect(certificateMember("URI:urn:other:web/vm1")).toEqual({ kind: "none" });
  });

  it("guesses nothing from two members or a malformed one", () => {
    expect(certificateMember("URI:urn:icsdn:member:web/vm1, URI:urn:icsdn:member:web/vm2")).toMatchObject({
      kind: "invalid",
      why: "names 2 members",
    });
    for (const bad of [
      "URI:urn:icsdn:member:web",
      "URI:urn:icsdn:member:web/vm1/x",
      "URI:urn:icsdn:member:Web/vm1",
      "URI:urn:icsdn:member:web/-vm1",
      "URI:urn:icsdn:member:/vm1",
      'URI:"urn:icsdn:member:web/vm1,x"',
    ]) {
      expect(certificateMember(bad), bad).toMatchObject({ kind: "invalid" });
    }
  });
});

describe("admitSwitch", () => {
  const member = { kind: "member", member: vm1 } as const;
  it("admits a certificate on its own member's dpid only", () => {
    expect(admitSwitch({ certificate: member, dpidMember: vm1, allowUnbound: false })).toEqual({
      admit: true,
      member: vm1,
    });
    expect(admitSwitch({ certificate: member, dpidMember: vm2, allowUnbound: true })).toEqual({
      admit: false,
      reason: "other-member",
      message: "the datapath id is web/vm2's, the certificate web/vm1's",
    });
    // Same VM name, another cluster: another member.
    expect(
      admitSwitch({ certificate: member, dpidMember: { clusterId: "db", vmId: "vm1" }, allowUnbound: false }),
    ).toMatchObject({ admit: false, reason: "other-member" });
  });

  it("refuses a dpid no member has: a member created later must not find a stranger on it", () => {
    expect(admitSwitch({ certificate: member, dpidMember: undefined, allowUnbound: true })).toMatchObject({
      admit: false,
      reason: "no-member",
    });
  });

  it("admits a certificate naming no member only when allowed, then for any dpid; never an invalid one", () => {
    const none = { kind: "none" } as const;
    expect(admitSwitch({ certificate: none, dpidMember: vm2, allowUnbound: false })).toMatchObject({
      admit: false,
      reason: "unbound",
    });
    expect(admitSwitch({ certificate: none, dpidMember: vm2, allowUnbound: true })).toEqual({
      admit: true,
      member: null,
    });
    expect(admitSwitch({ certificate: none, dpidMember: undefined, allowUnbound: true })).toEqual({
      admit: true,
      member: null,
    });
    const invalid = { kind: "invalid", why: "names 2 members" } as const;
    expect(admitSwitch({ certificate: invalid, dpidMember: vm1, allowUnbound: true })).toMatchObject({
      admit: false,
      reason: "invalid",
    });
  });

  it("tells the switch HELLO_FAILED/EPERM without naming any member", () => {
    for (const reason of ["other-member", "no-member", "unbound", "invalid"] as const) {
      const m = decodeMessage(encodeMessage(identityRefused(0, reason)));
      expect(m).toMatchObject({ type: "ERROR", errorType: OFPET.HELLO_FAILED, code: OFPHFC.EPERM });
      const text = new TextDecoder().decode((m as { data: Uint8Array }).data);
      expect(text).toMatch(/certificate/);
      expect(text).not.toMatch(/vm|web/);
    }
  });
});

describe("MemberBindings", () => {
  it("finds the sessions a batch for another member must not reach, once", () => {
    const b = new MemberBindings<string>();
    expect(b.bind(7n, vm2, "s1")).toBeUndefined();
    expect(b.bind(7n, vm2, "s2")).toBeUndefined();
    expect(b.boundElsewhere(7n, "vm2")).toBeUndefined();
    expect(b.boundElsewhere(8n, "vm5")).toBeUndefined();
    expect(b.boundElsewhere(7n, "vm5")).toEqual({ member: vm2, sessions: ["s1", "s2"] });
    expect(b.boundElsewhere(7n, "vm5")).toBeUndefined();
  });

  it("hands back the stale sessions when the dpid's new member is admitted; forgets closed ones", () => {
    const b = new MemberBindings<string>();
    b.bind(7n, vm2, "old");
    expect(b.bind(7n, { clusterId: "web", vmId: "vm5" }, "new")).toEqual({ member: vm2, sessions: ["old"] });
    b.unbind(7n, "new");
    expect(b.boundElsewhere(7n, "vm9")).toBeUndefined();
  });
});

describe("HandshakeFailureLog", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("logs the first failure at once, then one line per interval with a count, and counts every one", () => {
    vi.useFakeTimers();
    const log = new MemoryLog();
    const counted: string[] = [];
    const f = new HandshakeFailureLog({ log, intervalMs: 1000, count: (t) => counted.push(t) });
    const fail = (i: number) =>
      f.note({ transport: i % 2 ? "tls" : "tcp", remote: `192.0.2.${i % 7}:${1000 + i}`, reason: `r${i}` });
    fail(0);
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({
      level: "warn",
      fields: { remote: "192.0.2.0:1000", reason: "r0" },
    });
    for (let i = 1; i <= 1000; i++) fail(i);
    expect(log.entries).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(log.entries).toHaveLength(2);
    expect(log.entries[1]).toMatchObject({
      level: "warn",
      fields: { count: 1000, lastReason: "r1000", lastTransport: "tcp" },
    });
    expect(log.entries[1]!.fields.remotes).toHaveLength(5);
    // The flood goes on in the next interval: one more line; then a quiet interval closes the window.
    for (let i = 0; i < 10; i++) fail(i);
    vi.advanceTimersByTime(1000);
    expect(log.entries.map((e) => e.fields.count)).toEqual([undefined, 1000, 10]);
    vi.advanceTimersByTime(5000);
    expect(log.entries).toHaveLength(3);
    fail(3);
    expect(log.entries).toHaveLength(4);
    expect(counted).toHaveLength(1012);
    expect(counted.filter((t) => t === "tls")).toHaveLength(506);
    expect(log.entries.every((e) => e.level === "warn")).toBe(true);
    fail(4);
    f.close();
    expect(log.entries.at(-1)).toMatchObject({ fields: { count: 1 } });
  });
});
