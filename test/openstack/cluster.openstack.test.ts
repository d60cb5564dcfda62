/**
 * Servers booted through Nova in both clouds, configured by the real vm-init from
 * `icsdn vm-init user-data` output, join a cluster created through the controller's REST API:
 * - they reach each other's vint0 through the VXLAN tunnel between their floating IPs, and ssh
 *   with the key pair works at the floating IPs;
 * - without a security group rule for UDP 4789 in one cloud the cluster's traffic is lost (the
 *   router drops it), with the rule back it flows again;
 * - bytes written to a server's disk are in its snapshot, and a server booted from that image in
 *   the other cloud reads them back on its own disk.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ControllerProcess,
  freePort,
  pingCount,
  removeDb,
  startControllerProcess,
  waitSwitchesConverged,
} from "../../lab/controller-lab.ts";
import { writeDisk } from "../../lab/openstack/disk.ts";
import { type KeyPair, makeKeyPair, ssh } from "../../lab/openstack/ssh.ts";
import { ICSDN_BIN } from "../../lab/paths.ts";
import { HOST_ADDRESS } from "../../lab/plan.ts";
import { run } from "../../lab/sh.ts";
import { openstackLab } from "../support/openstack-lab.ts";
import { fixedIp, type ServerView, serverNetns, uploadImageFile, waitFor } from "./support.ts";

const os = openstackLab();
const CLUSTER = "osc";
const VNI = 4242;

interface Member {
  readonly cloud: "a" | "b";
  readonly entry: string;
  readonly name: string;
  readonly vint0: string;
  id: string;
  fip: string;
  netns: string;
}

describe.skipIf(!os)("a cluster of servers booted through Nova in both clouds", () => {
  const lab = os!;
  const tmp = mkdtempSync(join(tmpdir(), "icsdn-os-cluster-"));
  let ctl: ControllerProcess;
  let key: KeyPair;
  const ruleIds: Record<string, string> = {};
  const members: Member[] = [
    { cloud: "a", entry: "lab-a", name: "srv-a", vint0: "198.18.0.11", id: "", fip: "", netns: "" },
    { cloud: "b", entry: "lab-b", name: "srv-b", vint0: "198.18.0.12", id: "", fip: "", netns: "" },
  ];
  const extra: { entry: string; id: string }[] = [];

  async function allow(entry: string, protocol: string, port: number): Promise<string> {
    const args = [
      "security",
      "group",
      "rule",
      "create",
      "default",
      "--protocol",
      protocol,
      "--dst-port",
      String(port),
    ];
    return (await lab.json<{ id: string }>(entry, [...args, "--remote-ip", "0.0.0.0/0"])).id;
  }

  beforeAll(async () => {
    key = await makeKeyPair();
    ctl = await startControllerProcess({ openflowPort: await freePort() });
    for (const m of members) {
      await lab.cli(m.entry, ["keypair", "create", "--public-key", `${key.privateKey}.pub`, "k-cluster"]);
      ruleIds[`${m.cloud}-ssh`] = await allow(m.entry, "tcp", 22);
      ruleIds[`${m.cloud}-vxlan`] = await allow(m.entry, "udp", 4789);
    }
    await Promise.all(
      members.map(async (m, i) => {
        const cfg = join(tmp, `${m.name}.json`);
        writeFileSync(
          cfg,
          JSON.stringify({
            clusterId: CLUSTER,
            vni: VNI,
            tunnel: "vxlan",
            datapath: "netdev",
            vint0: { address: `${m.vint0}/24`, mac: `02:c6:12:00:01:0${i + 1}` },
            underlay: { nics: ["eth0"], address: "takeover", mtu: 1500 },
            controller: { targets: [`tcp:${HOST_ADDRESS}:${ctl.openflowPort}`] },
            offload: { txChecksum: "off" },
          }),
        );
        const ud = join(tmp, `${m.name}.user-data`);
        writeFileSync(ud, (await run(ICSDN_BIN, ["vm-init", "user-data", "--config", cfg])).stdout);
        const s = await lab.json<ServerView>(
          m.entry,
          ["server", "create", "--flavor", "m1.tiny", "--image", "lab-disk", "--network", "private"].concat([
            "--key-name",
            "k-cluster",
            "--user-data",
            ud,
            "--wait",
            m.name,
          ]),
          240_000,
        );
        expect(s.status).toBe("ACTIVE");
        m.id = s.id;
        m.netns = serverNetns(lab, s.id);
        fixedIp(s);
        m.fip = (
          await lab.json<{ floating_ip_address: string }>(m.entry, ["floating", "ip", "create", "public"])
        ).floating_ip_address;
        await lab.cli(m.entry, ["server", "add", "floating", "ip", s.id, m.fip]);
      }),
    );
    await ctl.client.createCluster({
      id: CLUSTER,
      vni: VNI,
      tunnel: "vxlan",
      members: members.map((m) => ({ vmId: m.name, vint0: m.vint0, endpoint: m.fip })),
    });
    await waitSwitchesConverged(
      ctl.client,
      CLUSTER,
      members.map((m) => m.name),
      60_000,
    );
  }, 600_000);

  afterAll(async () => {
    for (const s of [...members.filter((m) => m.id), ...extra]) {
      await lab.cli(s.entry, ["server", "delete", "--wait", s.id], { check: false, timeoutMs: 120_000 });
    }
    await ctl?.stop();
    if (ctl) removeDb(ctl.dbPath);
    key?.remove();
    rmSync(tmp, { recursive: true, force: true });
  }, 300_000);

  it("links the members' vint0 across the clouds; ssh with the key pair works at their floating IPs", async () => {
    const [a, b] = members as [Member, Member];
    await waitFor("vint0 to vint0", async () => (await pingCount(a.netns, b.vint0, 3)) > 0, 30_000);
    expect(await pingCount(b.netns, a.vint0, 3)).toBeGreaterThan(0);
    const viaSsh = await ssh(a.fip, key.privateKey, `ping -n -c 2 -W 1 ${b.vint0}`);
    expect(viaSsh.stdout).toMatch(/[12] received/);
    expect((await ssh(b.fip, key.privateKey, "ip -o addr show vint0")).stdout).toContain(`${b.vint0}/24`);
  });

  it("loses the cluster's traffic without a rule for VXLAN in one cloud, and gets it back with the rule", async () => {
    const [a, b] = members as [Member, Member];
    await lab.cli("lab-b", ["security", "group", "rule", "delete", ruleIds["b-vxlan"]!]);
    await waitFor("the VXLAN rule gone in router-b", async () => {
      const rules = (await run("ip", ["netns", "exec", `ic${lab.labName}-router-b`, "iptables", "-S"]))
        .stdout;
      return !rules.includes("--dport 4789");
    });
    expect(await pingCount(a.netns, b.vint0, 5)).toBe(0);
    ruleIds["b-vxlan"] = await allow("lab-b", "udp", 4789);
    await waitFor("vint0 to vint0 again", async () => (await pingCount(a.netns, b.vint0, 3)) > 0, 30_000);
  });

  it("snapshots a server's disk byte for byte; a server booted from it in the other cloud reads the bytes back", async () => {
    const [a] = members as [Member, Member];
    const marker = `written-in-cloud-a-${Date.now()}`;
    const offset = 300_000;
    writeDisk(a.id, offset, Buffer.from(marker));
    const snap = await lab.json<{ id: string; status: string }>(
      "lab-a",
      ["server", "image", "create", "--wait", "--name", "snap-a", a.id],
      240_000,
    );
    expect(snap.status).toBe("active");
    const file = join(tmp, "snap-a.raw");
    await lab.cli("lab-a", ["image", "save", "--file", file, snap.id], { timeoutMs: 120_000 });
    // cloud b's Glance takes qcow2 only (as a cloud may): convert the way an operator would
    const qcow2 = join(tmp, "snap-a.qcow2");
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", file, qcow2]);
    const copy = await uploadImageFile(lab, "lab-b", qcow2, "from-a", "qcow2");
    const c = await lab.json<ServerView>(
      "lab-b",
      ["server", "create", "--flavor", "m1.tiny", "--image", copy, "--network", "private"].concat([
        "--key-name",
        "k-cluster",
        "--wait",
        "srv-c",
      ]),
      240_000,
    );
    extra.push({ entry: "lab-b", id: c.id });
    const fip = (
      await lab.json<{ floating_ip_address: string }>("lab-b", ["floating", "ip", "create", "public"])
    ).floating_ip_address;
    await lab.cli("lab-b", ["server", "add", "floating", "ip", c.id, fip]);
    // the new VM reads its own disk (LAB_DISK: its disk file) over ssh
    const read = await waitFor("ssh to srv-c", async () => {
      const r = await ssh(
        fip,
        key.privateKey,
        `dd if="$LAB_DISK" bs=1 skip=${offset} count=${marker.length} 2>/dev/null`,
      );
      return r.code === 0 ? r : null;
    });
    expect(read.stdout).toBe(marker);
  });
});
