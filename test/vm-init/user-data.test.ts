/**
 * user-data is checked by the real validators: Debian's `cloud-init schema` for the cloud-config,
 * PyYAML (what cloud-init parses it with) for the round trip, `systemd-analyze verify` for the unit.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig, unitFile, userData, type VmInitConfig } from "../../vm-init/index.ts";
import { toYaml } from "../../vm-init/yaml.ts";

const dir = mkdtempSync(join(tmpdir(), "icvt-userdata-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = parseConfig({
  clusterId: "c1",
  vni: 42,
  tunnel: "vxlan",
  vint0: { address: "198.18.0.1/24", mac: "02:00:00:00:00:01" },
  underlay: { nics: ["eth0"], address: "203.0.113.10/24", gateway: "203.0.113.1" },
  controller: { targets: ["tcp:198.51.100.1:6653"], restUrl: "http://198.51.100.1:8080", vmId: "vm1" },
});

let n = 0;
async function schema(text: string): Promise<{ exitCode: number; out: string }> {
  const file = join(dir, `user-data-${n++}.yaml`);
  writeFileSync(file, text);
  const r = await execa("cloud-init", ["schema", "--config-file", file], { reject: false });
  return { exitCode: r.exitCode ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Parses YAML with PyYAML, as cloud-init does (Debian's python3, which has it). */
async function pyyaml(text: string): Promise<Record<string, unknown>> {
  const r = await execa(
    "/usr/bin/python3",
    ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"],
    { input: text },
  );
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface WriteFile {
  path: string;
  content: string;
  permissions: string;
}

describe("user-data", () => {
  it("is valid cloud-config that carries the config, the unit, OVS and the first start", async () => {
    const text = userData(config);
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const v = await schema(text);
    expect(v.out).toContain("Valid cloud-config");
    expect(v.exitCode).toBe(0);

    const doc = await pyyaml(text);
    expect(doc.packages).toEqual(["openvswitch-switch", "iproute2"]);
    const files = doc.write_files as WriteFile[];
    const cfg = files.find((f) => f.path === "/etc/icsdn/vm-init.json")!;
    expect(JSON.parse(cfg.content)).toEqual(config);
    expect(parseConfig(JSON.parse(cfg.content))).toEqual(config);
    expect(cfg.permissions).toBe("0600");
    const unit = files.find((f) => f.path === "/etc/systemd/system/icsdn-vm-init.service")!;
    expect(unit.content).toBe(unitFile(config, "/opt/icsdn", "/etc/icsdn/vm-init.json"));
    expect(unit.content).toContain("Before=network-online.target");
    expect(unit.content).toContain(
      "ExecStart=/opt/icsdn/bin/icsdn vm-init apply --config /etc/icsdn/vm-init.json",
    );
    expect(doc.runcmd).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "icsdn-vm-init.service"],
    ]);
  });

  it("with a tarball install: fetches, checks the SHA-256, unpacks; still valid", async () => {
    const sha = "a".repeat(64);
    const text = userData(
      { ...config, offload: { txChecksum: "off" } },
      { install: { kind: "tarball", url: "https://example.org/icsdn.tgz", sha256: sha } },
    );
    expect((await schema(text)).exitCode).toBe(0);
    const doc = await pyyaml(text);
    expect(doc.packages).toEqual(["openvswitch-switch", "iproute2", "ethtool", "curl", "ca-certificates"]);
    const fetch = (doc.runcmd as string[][])[0]!;
    expect(fetch[0]).toBe("sh");
    expect(fetch[2]).toContain(`echo '${sha}  /tmp/icsdn.tgz' | sha256sum -c -`);
    expect(() =>
      userData(config, { install: { kind: "tarball", url: "https://x/'; rm -rf /", sha256: sha } }),
    ).toThrow(/install.url/);
    expect(() =>
      userData(config, { install: { kind: "tarball", url: "https://x/a", sha256: "00" } }),
    ).toThrow(/install.sha256/);
  });

  it("takeover waits for the DHCP lease before taking it", () => {
    const takeover: VmInitConfig = { ...config, underlay: { ...config.underlay, address: "takeover" } };
    const unit = unitFile(takeover, "/opt/icsdn", "/etc/icsdn/vm-init.json");
    expect(unit).toMatch(/^After=.*systemd-networkd-wait-online\.service ifupdown-wait-online\.service$/m);
    expect(unitFile(config, "/opt/icsdn", "/x.json")).not.toContain("wait-online");
  });

  it("the unit passes systemd-analyze verify", async () => {
    const which = await execa("sh", ["-c", "command -v systemd-analyze"], { reject: false });
    if (which.exitCode !== 0) return; // not installed: nothing to check against
    const unitDir = join(dir, "units");
    await execa("mkdir", ["-p", unitDir]);
    // ExecStart must name an existing executable: point it at this checkout's bin/icsdn.
    const repo = join(import.meta.dirname, "..", "..");
    const takeover: VmInitConfig = { ...config, underlay: { ...config.underlay, address: "takeover" } };
    for (const [i, c] of [config, takeover].entries()) {
      const file = join(unitDir, `icsdn-vm-init-${i}.service`);
      writeFileSync(file, unitFile(c, repo, "/etc/icsdn/vm-init.json"));
      const r = await execa("systemd-analyze", ["verify", file], { reject: false });
      expect(`${r.stdout}${r.stderr}`).toBe("");
      expect(r.exitCode).toBe(0);
    }
  });

  it("a broken document is refused by the same validator (the check can fail)", async () => {
    const v = await schema("#cloud-config\npackages: 5\n");
    expect(v.exitCode).not.toBe(0);
    expect(v.out).toMatch(/packages: 5 is not of type 'array'/);
  });
});

describe("the CLI", () => {
  it("user-data and validate read the config file and print what the library makes", async () => {
    const file = join(dir, "vm-init.json");
    writeFileSync(file, JSON.stringify({ ...config, datapath: undefined }));
    const icsdn = join(import.meta.dirname, "..", "..", "bin", "icsdn");
    const sha = "b".repeat(64);
    const ud = await execa(icsdn, [
      "vm-init",
      "user-data",
      "--config",
      file,
      "--icsdn-url",
      "https://example.org/icsdn.tgz",
      "--icsdn-sha256",
      sha,
    ]);
    expect(ud.stdout).toBe(
      userData(config, {
        install: { kind: "tarball", url: "https://example.org/icsdn.tgz", sha256: sha },
      }).trimEnd(),
    );
    expect((await schema(ud.stdout)).exitCode).toBe(0);
    const v = await execa(icsdn, ["vm-init", "validate", "--config", file]);
    expect(JSON.parse(v.stdout)).toEqual(config);
    const bad = await execa(icsdn, ["vm-init", "user-data", "--config", file, "--install", "tarball"], {
      reject: false,
    });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--install tarball needs --icsdn-url and --icsdn-sha256/);
  });
});

describe("toYaml", () => {
  it("writes what PyYAML reads back unchanged", async () => {
    const value = {
      a: "plain",
      "b c": 'quote " and \\ backslash: # not a comment',
      n: 3,
      t: true,
      empty: [],
      nested: { list: ["x", ["y", "z"]], obj: [{ k: "v", k2: "multi\nline\n" }] },
      trailing: "no newline\nat end",
      indented: " starts with a space\nsecond",
    };
    expect(await pyyaml(toYaml(value))).toEqual(value);
  });
});
