import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCloudsFile, resolveCloud, searchPaths } from "../../mediation/clouds/clouds-yaml.ts";
import { MediationError } from "../../mediation/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "icsdn-clouds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(fn: () => unknown): MediationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MediationError) return err;
    throw err;
  }
  throw new Error("expected a MediationError");
}

describe("clouds.yaml", () => {
  it("looks where openstacksdk looks, the env override first", () => {
    const paths = searchPaths(
      "clouds",
      { OS_CLIENT_CONFIG_FILE: "/x/c.yaml", XDG_CONFIG_HOME: "/home/u/.config" },
      "/work",
    );
    expect(paths.slice(0, 3)).toEqual(["/x/c.yaml", "/work/clouds.yaml", "/work/clouds.yml"]);
    expect(paths).toContain("/home/u/.config/openstack/clouds.yaml");
    expect(paths.at(-3)).toBe("/etc/openstack/clouds.yaml");
    expect(searchPaths("secure", { OS_CLIENT_SECURE_FILE: "/x/s.yaml" }, "/w")[0]).toBe("/x/s.yaml");
  });

  it("merges secure.yaml's secrets and resolves password and application-credential clouds", () => {
    const cwd = join(dir, "merge");
    mkdirSync(cwd);
    writeFileSync(
      join(cwd, "clouds.yaml"),
      `clouds:
  a:
    auth: {auth_url: "http://k:5000/v3/", username: u, project_name: p, user_domain_name: D}
    regions: [R1, R2]
    image_endpoint_override: http://proxy:1/
    icsdn: {flavor_map: {m1.big: m2.big}, disk_formats: [qcow2], external_network: ext}
  b:
    auth_type: v3applicationcredential
    auth: {auth_url: "http://k:5000/v3", application_credential_id: abc}
    region_name: R9
    interface: internal
`,
    );
    writeFileSync(
      join(cwd, "secure.yaml"),
      "clouds:\n  a: {auth: {password: s3cret}}\n  b: {auth: {application_credential_secret: t0p}}\n",
    );
    const file = loadCloudsFile({ XDG_CONFIG_HOME: join(dir, "none") }, cwd);
    const a = resolveCloud("a", file, {});
    expect(a.auth).toEqual({
      type: "password",
      authUrl: "http://k:5000/v3",
      username: "u",
      password: "s3cret",
      userDomain: { name: "D" },
      project: { name: "p", domain: { name: "Default" } },
    });
    expect(a.region).toBe("R1");
    expect(a.endpointOverrides).toEqual({ image: "http://proxy:1" });
    expect(a.flavorMap).toEqual({ "m1.big": "m2.big" });
    expect(a.diskFormats).toEqual(["qcow2"]);
    expect(a.externalNetwork).toBe("ext");
    const b = resolveCloud(undefined, file, { OS_CLOUD: "b" });
    expect(b.auth).toEqual({
      type: "v3applicationcredential",
      authUrl: "http://k:5000/v3",
      id: "abc",
      secret: "t0p",
      userDomain: { name: "Default" },
    });
    expect(b.interface).toBe("internal");
    expect(b.region).toBe("R9");
  });

  it("names the missing cloud or setting", () => {
    const cwd = join(dir, "bad");
    mkdirSync(cwd);
    writeFileSync(
      join(cwd, "clouds.yaml"),
      "clouds:\n  a:\n    auth: {auth_url: http://k/v3, username: u}\n",
    );
    const file = loadCloudsFile({ XDG_CONFIG_HOME: join(dir, "none") }, cwd);
    const unknown = refusal(() => resolveCloud("zz", file, {}));
    expect(unknown.code).toBe("CLOUD_CONFIG");
    expect(unknown.message).toMatch(/unknown cloud 'zz'.*has: a/);
    expect(refusal(() => resolveCloud("a", file, {})).field).toBe("a.auth.project_name");
    expect(refusal(() => resolveCloud(undefined, file, {})).field).toBe("cloud");
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(refusal(() => loadCloudsFile({ XDG_CONFIG_HOME: join(dir, "none") }, empty)).message).toMatch(
      /no clouds.yaml/,
    );
  });
});
