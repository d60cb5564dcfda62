/**
 * The real `openstack` CLI (Debian's python3-openstackclient) against the lab's two clouds; every
 * step is checked on the lab side too: Glance's store file, the server's namespace, MAC, disk file
 * and processes, the router's NAT and filter rules, ssh at the floating IP.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDisk, writeDisk } from "../../lab/openstack/disk.ts";
import { KEYSTONE_URL } from "../../lab/openstack/plan.ts";
import { openstackPasswords, openstackRoot } from "../../lab/openstack/services.ts";
import { makeKeyPair, ssh } from "../../lab/openstack/ssh.ts";
import { run, runIn } from "../../lab/sh.ts";
import { openstackLab } from "../support/openstack-lab.ts";
import {
  fixedIp,
  instanceDir,
  netagentApplied,
  netnsExists,
  netnsPids,
  routerRules,
  type ServerView,
  serverNetns,
  uploadImageFile,
  waitFor,
} from "./support.ts";

const os = openstackLab();
const tmp = mkdtempSync(join(tmpdir(), "icsdn-os-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!os)("the lab's OpenStack clouds through the openstack CLI", () => {
  const lab = os!;

  it("gives each cloud its own project, token and image store", async () => {
    const a = await lab.json<{ project_id: string }>("lab-a", ["token", "issue"]);
    const b = await lab.json<{ project_id: string }>("lab-b", ["token", "issue"]);
    expect(a.project_id).not.toBe(b.project_id);
    // the cloud's user has no role anywhere else: a token for the other cloud's project is refused
    const pw = openstackPasswords().USER_A_PASSWORD!;
    const asUserA = (project: string) =>
      run("openstack", ["token", "issue", "-f", "value", "-c", "project_id"], {
        check: false,
        timeoutMs: 60_000,
        env: {
          OS_AUTH_URL: KEYSTONE_URL,
          OS_IDENTITY_API_VERSION: "3",
          OS_USERNAME: "user-a",
          OS_PASSWORD: pw,
          OS_PROJECT_NAME: project,
          OS_USER_DOMAIN_NAME: "Default",
          OS_PROJECT_DOMAIN_NAME: "Default",
          OS_CLIENT_CONFIG_FILE: "/dev/null",
        },
      });
    expect((await asUserA("project-a")).stdout.trim()).toBe(a.project_id);
    expect((await asUserA("project-b")).code).not.toBe(0);
    // and cloud b's APIs refuse cloud a's token, naming the region
    const token = (await lab.cli("lab-a", ["token", "issue", "-f", "value", "-c", "id"])).stdout.trim();
    for (const c of lab.clouds) {
      const res = await fetch(`http://127.0.0.1:${c.ports.nova}/v2.1/servers`, {
        headers: { "x-auth-token": token },
      });
      if (c.name === "a") expect(res.status).toBe(200);
      else
        expect([res.status, await res.text()]).toEqual([
          401,
          expect.stringContaining("not valid in region-b"),
        ]);
    }

    const file = join(tmp, "img.raw");
    const bytes = randomBytes(1 << 20);
    writeFileSync(file, bytes);
    const img = { id: await uploadImageFile(lab, "lab-a", file, "only-in-a") };
    // (OSC prints the record as created; the upload made it active)
    expect((await lab.json<{ status: string }>("lab-a", ["image", "show", img.id])).status).toBe("active");
    // the bytes are in cloud a's Glance file store, and nowhere in cloud b's
    expect(readFileSync(join(openstackRoot(), "data", "a", "glance", "images", img.id)).equals(bytes)).toBe(
      true,
    );
    expect(existsSync(join(openstackRoot(), "data", "b", "glance", "images", img.id))).toBe(false);
    const saved = join(tmp, "saved.raw");
    await lab.cli("lab-a", ["image", "save", "--file", saved, img.id]);
    expect(readFileSync(saved).equals(bytes)).toBe(true);
    const inA = await lab.json<{ Name: string }[]>("lab-a", ["image", "list"]);
    const inB = await lab.json<{ Name: string }[]>("lab-b", ["image", "list"]);
    expect(inA.map((i) => i.Name)).toContain("only-in-a");
    expect(inB.map((i) => i.Name)).not.toContain("only-in-a");
    await lab.cli("lab-a", ["image", "delete", img.id]);
    expect(existsSync(join(openstackRoot(), "data", "a", "glance", "images", img.id))).toBe(false);
  });

  it("lists the flavors and networks each cloud starts with, on the lab's address plan", async () => {
    const flavors = await lab.json<{ Name: string }[]>("lab-b", ["flavor", "list"]);
    expect(flavors.map((f) => f.Name).sort()).toEqual(["m1.large", "m1.small", "m1.tiny"]);
    for (const c of lab.clouds) {
      const subnets = await lab.json<{ Name: string; Subnet: string }[]>(c.adminEntry, ["subnet", "list"]);
      expect(Object.fromEntries(subnets.map((s) => [s.Name, s.Subnet]))).toEqual({
        "private-subnet": c.provider,
        "public-subnet": c.floatingRange,
      });
    }
  });

  it("boots a qcow2 image into a raw disk file with the image's bytes", async () => {
    const raw = join(tmp, "q.raw");
    const qcow = join(tmp, "q.qcow2");
    const bytes = randomBytes(3 << 20);
    writeFileSync(raw, bytes);
    await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow]);
    const args = [
      "image",
      "create",
      "--disk-format",
      "qcow2",
      "--container-format",
      "bare",
      "--file",
      qcow,
      "q",
    ];
    const image = (await lab.json<{ id: string }>("lab-b", args)).id;
    const server = await lab.json<ServerView>(
      "lab-b",
      [
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        image,
        "--network",
        "private",
        "--wait",
        "s-qcow",
      ],
      180_000,
    );
    expect(server.status).toBe("ACTIVE");
    const disk = join(instanceDir("b", server.id), "disk");
    expect((await run("qemu-img", ["info", "--output", "json", disk])).stdout).toContain('"format": "raw"');
    expect(readFileSync(disk).equals(bytes)).toBe(true);
    await lab.cli("lab-b", ["server", "delete", "--wait", server.id], { timeoutMs: 120_000 });
  });

  it("boots a server as a lab VM and drives it: floating IP, security group, snapshot, stop, start, delete", async () => {
    const key = await makeKeyPair();
    let sshRule: string | undefined;
    try {
      await lab.cli("lab-a", ["keypair", "create", "--public-key", `${key.privateKey}.pub`, "k-cli"]);
      const ud = join(tmp, "user-data");
      writeFileSync(
        ud,
        "#cloud-config\nwrite_files:\n  - path: /etc/lab-note\n    content: written-by-cloud-init\nruncmd:\n  - [cat, /etc/lab-note]\n",
      );
      const server = await lab.json<ServerView>(
        "lab-a",
        [
          "server",
          "create",
          "--flavor",
          "m1.tiny",
          "--image",
          "lab-disk",
          "--network",
          "private",
          "--key-name",
          "k-cli",
          "--user-data",
          ud,
          "--wait",
          "s-cli",
        ],
        180_000,
      );
      expect(server.status).toBe("ACTIVE");
      const ns = serverNetns(lab, server.id);
      const ip = fixedIp(server);
      // the lab VM: its namespace, the port's MAC and fixed IP on eth0, its disk file
      const port = (
        await lab.json<{ "MAC Address": string }[]>("lab-a", ["port", "list", "--server", server.id])
      )[0]!;
      const mac = port["MAC Address"];
      const link = (await runIn(ns, "ip", ["-o", "addr", "show", "dev", "eth0"])).stdout;
      expect(link).toContain(`${ip}/25`);
      expect((await runIn(ns, "cat", ["/sys/class/net/eth0/address"])).stdout.trim()).toBe(mac);
      expect(
        readFileSync(join(instanceDir("a", server.id), "disk"))
          .subarray(0, 15)
          .toString(),
      ).toBe("icsdn lab disk\n");
      const console = (await lab.cli("lab-a", ["console", "log", "show", server.id])).stdout;
      expect(console).toContain("written-by-cloud-init");
      expect(console).toContain("Cloud-init finished");

      // floating IP: the router's 1:1 NAT follows set / unset
      const fip = (
        await lab.json<{ floating_ip_address: string }>("lab-a", ["floating", "ip", "create", "public"])
      ).floating_ip_address;
      await lab.cli("lab-a", ["server", "add", "floating", "ip", server.id, fip]);
      await waitFor("the DNAT rule", async () =>
        (await routerRules(lab, "a", "nat")).includes(`-d ${fip}/32 -j DNAT --to-destination ${ip}`),
      );
      // no rule for ssh in the default group: the router drops it
      expect((await ssh(fip, key.privateKey, "true")).code).not.toBe(0);
      const rule = "security group rule create default --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0";
      sshRule = (await lab.json<{ id: string }>("lab-a", rule.split(" "))).id;
      // The agent's round is over (not only its rules in place): a connection opened as a rule
      // appears is not cut.
      // (The agent writes a port range, `--dport 22:22`; iptables -S shows `--dport 22`.)
      await waitFor("the ssh rule", async () =>
        netagentApplied("a", "filter").includes("--dport 22:22 -j ACCEPT"),
      );
      expect(await routerRules(lab, "a", "filter")).toContain("--dport 22 -j ACCEPT");
      const who = await ssh(fip, key.privateKey, "cat /sys/class/net/eth0/address");
      expect(who).toMatchObject({ code: 0, stdout: mac });
      await lab.cli("lab-a", ["security", "group", "rule", "delete", sshRule]);
      sshRule = undefined;
      await waitFor("the ssh rule gone", async () => !netagentApplied("a", "filter").includes("--dport 22"));
      expect(await routerRules(lab, "a", "filter")).not.toContain("--dport 22");
      expect((await ssh(fip, key.privateKey, "true")).code).not.toBe(0);

      // createImage uploads the VM's disk file as it is
      writeDisk(server.id, 1 << 19, Buffer.from("bytes-on-the-disk"));
      const snap = await lab.json<{ id: string; status: string }>(
        "lab-a",
        ["server", "image", "create", "--wait", "--name", "snap-cli", server.id],
        180_000,
      );
      expect(snap.status).toBe("active");
      const snapFile = join(tmp, "snap.raw");
      await lab.cli("lab-a", ["image", "save", "--file", snapFile, snap.id]);
      expect(readFileSync(snapFile).equals(readFileSync(join(instanceDir("a", server.id), "disk")))).toBe(
        true,
      );
      expect(readDisk(server.id, 1 << 19, 17).toString()).toBe("bytes-on-the-disk");

      // stop: nothing runs in the VM; start: it boots again (sshd, OVS)
      await lab.cli("lab-a", ["server", "stop", server.id]);
      await waitFor(
        "SHUTOFF",
        async () => (await lab.json<ServerView>("lab-a", ["server", "show", server.id])).status === "SHUTOFF",
      );
      expect(await netnsPids(ns)).toEqual([]);
      await lab.cli("lab-a", ["server", "start", server.id]);
      await waitFor(
        "ACTIVE",
        async () => (await lab.json<ServerView>("lab-a", ["server", "show", server.id])).status === "ACTIVE",
      );
      const running = await netnsPids(ns);
      expect(running.length).toBeGreaterThanOrEqual(3);
      // reboot: the same VM boots anew (none of its processes survive; it boots a second time)
      await lab.cli("lab-a", ["server", "reboot", "--wait", server.id], { timeoutMs: 120_000 });
      const rebooted = await netnsPids(ns);
      expect(rebooted.length).toBeGreaterThanOrEqual(3);
      expect(rebooted.filter((p) => running.includes(p))).toEqual([]);
      const boots = (await lab.cli("lab-a", ["console", "log", "show", server.id])).stdout.match(
        /lab: booting/g,
      );
      expect(boots?.length).toBe(3);

      // floating IP unset: the NAT goes; delete: everything of the VM goes
      await lab.cli("lab-a", ["server", "remove", "floating", "ip", server.id, fip]);
      await waitFor("the DNAT rule gone", async () => !(await routerRules(lab, "a", "nat")).includes(fip));
      await lab.cli("lab-a", ["server", "delete", "--wait", server.id], { timeoutMs: 120_000 });
      expect(await netnsExists(ns)).toBe(false);
      expect(existsSync(instanceDir("a", server.id))).toBe(false);
    } finally {
      key.remove();
      // A failed run leaves nothing for the next (or its retry): the rule, the server, the key pair.
      if (sshRule) await lab.cli("lab-a", ["security", "group", "rule", "delete", sshRule], { check: false });
      await lab.cli("lab-a", ["server", "delete", "--wait", "s-cli"], { timeoutMs: 120_000, check: false });
      await lab.cli("lab-a", ["keypair", "delete", "k-cli"], { check: false });
    }
  });
});
