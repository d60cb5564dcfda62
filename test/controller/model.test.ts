import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IcsdnError } from "../../contract/errors/index.ts";
import { loadAuth, parseListen } from "../../contract/http/serve-config.ts";
import { TOKEN_ENV } from "../../controller/config.ts";
import { checkMemberConflicts } from "../../controller/model/cluster-state.ts";
import { parseHostIpv4 } from "../../controller/model/ipv4.ts";
import { clusterCreateInput, memberPatch } from "../../controller/model/requests.ts";
import { KeyedMutex } from "../../controller/service/keyed-mutex.ts";
import { makeState, tempDir } from "./support/fixtures.ts";

function refusal(fn: () => unknown): { code: string; field?: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof IcsdnError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error("expected an IcsdnError");
}

describe("host IPv4 addresses", () => {
  it("accepts dotted quads and returns them canonical", () => {
    expect(parseHostIpv4("198.18.0.1", "vint0")).toBe("198.18.0.1");
    expect(parseHostIpv4("203.0.113.255", "endpoint")).toBe("203.0.113.255");
  });

  it.each([
    ["198.18.0.01", /leading zero/i],
    ["198.18.0.1/24", /has a prefix/],
    ["198.18.0", /not an IPv4 address/],
    ["::1", /not an IPv4 address/],
    ["0.0.0.0", /unspecified/],
    ["127.0.0.2", /loopback/],
    ["239.1.1.1", /multicast/],
    ["255.255.255.255", /broadcast/],
    [42, /must be an IPv4 address string/],
  ])("refuses %s, naming the field", (value, why) => {
    const r = refusal(() => parseHostIpv4(value, "members[3].endpoint"));
    expect(r).toMatchObject({ code: "INVALID_FIELD", field: "members[3].endpoint" });
    expect(r.message).toMatch(why);
    expect(r.message.startsWith("members[3].endpoint: ")).toBe(true);
  });
});

// The route schemas check shapes, types and ranges (test/controller/api-errors.test.ts); the
// model's input functions add the address rules and the defaults.
describe("request input", () => {
  it("applies the address rules to each member, naming the offending member and field", () => {
    const body = {
      id: "web",
      vni: 42,
      tunnel: "gre",
      members: [
        { vmId: "a", vint0: "198.18.0.1" },
        { vmId: "b", vint0: "198.18.0.2", endpoint: "127.0.0.1" },
      ],
    } as const;
    expect(refusal(() => clusterCreateInput(body))).toMatchObject({
      code: "INVALID_FIELD",
      field: "members[1].endpoint",
    });
    expect(
      refusal(() => clusterCreateInput({ ...body, members: [{ vmId: "a", vint0: "0.0.0.0" }] })).field,
    ).toBe("members[0].vint0");
  });

  it("fills what a body may leave out: no members, no description, an unknown endpoint", () => {
    expect(clusterCreateInput({ id: "web", vni: 42, tunnel: "gre" })).toEqual({
      cluster: { id: "web", vni: 42, tunnel: "gre", description: "" },
      members: [],
    });
    expect(
      clusterCreateInput({
        id: "web",
        vni: 42,
        tunnel: "vxlan",
        description: "d",
        members: [
          { vmId: "a", vint0: "198.18.0.1" },
          { vmId: "b", vint0: "198.18.0.2", endpoint: null, description: "x" },
          { vmId: "c", vint0: "198.18.0.3", endpoint: "192.0.2.1" },
        ],
      }),
    ).toEqual({
      cluster: { id: "web", vni: 42, tunnel: "vxlan", description: "d" },
      members: [
        { vmId: "a", vint0: "198.18.0.1", endpoint: null, description: "" },
        { vmId: "b", vint0: "198.18.0.2", endpoint: null, description: "x" },
        { vmId: "c", vint0: "198.18.0.3", endpoint: "192.0.2.1", description: "" },
      ],
    });
  });

  it("tells an absent endpoint from an explicit null in a patch, and checks its addresses", () => {
    expect(memberPatch({ description: "x" })).toEqual({ description: "x" });
    expect(memberPatch({ endpoint: null })).toEqual({ endpoint: null });
    expect(memberPatch({ vint0: "198.18.0.1", endpoint: "192.0.2.1" })).toEqual({
      vint0: "198.18.0.1",
      endpoint: "192.0.2.1",
    });
    expect(refusal(() => memberPatch({ vint0: "224.0.0.1" })).field).toBe("vint0");
    expect(refusal(() => memberPatch({ endpoint: "255.255.255.255" })).field).toBe("endpoint");
  });

  it("finds duplicate vint0s and endpoints, never duplicate unknown endpoints", () => {
    const state = makeState(42, [
      ["a", "198.18.0.1", null],
      ["b", "198.18.0.2", null],
      ["c", "198.18.0.3", "192.0.2.1"],
    ]);
    expect(() => checkMemberConflicts(state.members, (i) => `members[${i}]`)).not.toThrow();
    const dup = makeState(42, [
      ["a", "198.18.0.1", "192.0.2.1"],
      ["b", "198.18.0.2", "192.0.2.1"],
    ]);
    expect(refusal(() => checkMemberConflicts(dup.members, (i) => `members[${i}]`))).toMatchObject({
      code: "CONFLICT",
      field: "members[1].endpoint",
    });
  });
});

describe("controller configuration", () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it("parses listen addresses", () => {
    expect(parseListen("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen("localhost:6653")).toEqual({ host: "localhost", port: 6653 });
    for (const bad of ["127.0.0.1", ":80", "127.0.0.1:99999", "a b:1"]) {
      expect(refusal(() => parseListen(bad)).field).toBe("--listen");
    }
  });

  it("takes the token from a file, else the environment, and needs an explicit opt-out", () => {
    const file = join(dir.path, "token");
    writeFileSync(file, "file-token-0123456789\n");
    expect(loadAuth({ tokenEnv: TOKEN_ENV, tokenFile: file, env: {} })).toEqual({
      mode: "token",
      token: "file-token-0123456789",
    });
    expect(
      loadAuth({ tokenEnv: TOKEN_ENV, env: { ICSDN_CONTROLLER_TOKEN: "env-token-0123456789" } }),
    ).toEqual({
      mode: "token",
      token: "env-token-0123456789",
    });
    expect(loadAuth({ tokenEnv: TOKEN_ENV, insecureNoAuth: true, env: {} })).toEqual({ mode: "none" });
    expect(refusal(() => loadAuth({ tokenEnv: TOKEN_ENV, env: {} })).message).toMatch(/no API token/);
    expect(
      refusal(() => loadAuth({ tokenEnv: TOKEN_ENV, tokenFile: file, insecureNoAuth: true, env: {} }))
        .message,
    ).toMatch(/exclude each other/);
    expect(
      refusal(() => loadAuth({ tokenEnv: TOKEN_ENV, tokenFile: join(dir.path, "missing"), env: {} })).field,
    ).toBe("--token-file");
    writeFileSync(file, "short-secret");
    const short = refusal(() => loadAuth({ tokenEnv: TOKEN_ENV, tokenFile: file, env: {} }));
    expect(short.message).toMatch(/at least 16/);
    expect(short.message).not.toContain("short-secret");
  });
});

describe("KeyedMutex", () => {
  it("runs one task at a time per key, in order, and keys in parallel", async () => {
    const locks = new KeyedMutex();
    const log: string[] = [];
    const task = (key: string, name: string, ms: number) =>
      locks.run(key, async () => {
        log.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name}-`);
      });
    await Promise.all([task("x", "x1", 10), task("x", "x2", 1), task("y", "y1", 1)]);
    expect(log.indexOf("x1-")).toBeLessThan(log.indexOf("x2+"));
    expect(log.indexOf("y1+")).toBeLessThan(log.indexOf("x1-"));
    await expect(locks.run("x", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await locks.run("x", async () => 7)).toBe(7);
    expect(locks.busyKeys).toEqual([]);
  });
});
