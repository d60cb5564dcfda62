import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import type { CloudDriver } from "../../../mediation/clouds/cloud-driver.ts";
import type { OpenStackDriver } from "../../../mediation/clouds/openstack/openstack-driver.ts";
import { type OfHarness, startHarness } from "../../controller/openflow/support/harness.ts";
import { LAB_FLAVOR, LAB_IMAGE, labDriver } from "./clouds.ts";

export const TOKEN = "mediation-test-token-0123456789";

/** A member's source server in lab-a with what a migration must carry: a security group with a remote-group rule, a key pair, a floating IP. */
export interface SourceFixture {
  readonly tag: string;
  readonly serverName: string;
  readonly serverId: string;
  readonly fip: { id: string; address: string };
  readonly groupName: string;
  readonly keyName: string;
  /** The key pair's private key file (removed by cleanClouds' caller with the fixture's dir). */
  readonly privateKeyFile: string;
}

export async function createSourceServer(
  a: OpenStackDriver,
  tag: string,
  keyDir: string,
): Promise<SourceFixture> {
  const privateKeyFile = join(keyDir, `key-${tag}`);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", privateKeyFile]);
  const publicKey = readFileSync(`${privateKeyFile}.pub`, "utf8").trim();
  const groupName = `icsdn-t-${tag}`;
  const keyName = `icsdn-t-${tag}`;
  const groupId = await a.createSecurityGroup(groupName, "cluster peers");
  // VXLAN between members (remote group: the rule a copy must re-point at the target's group), and
  // ssh from anywhere for the mediation's link check.
  await a.addSecurityGroupRules(
    groupId,
    [
      {
        direction: "ingress",
        ethertype: "IPv4",
        protocol: "udp",
        portMin: 4789,
        portMax: 4789,
        remoteIpPrefix: null,
        remoteGroupName: groupName,
      },
      {
        direction: "ingress",
        ethertype: "IPv4",
        protocol: "tcp",
        portMin: 22,
        portMax: 22,
        remoteIpPrefix: "0.0.0.0/0",
        remoteGroupName: null,
      },
    ],
    new Map([[groupName, groupId]]),
  );
  await a.importKeyPair(keyName, publicKey);
  const [image] = await a.lookupByName("image", LAB_IMAGE);
  const flavor = (await a.listFlavors()).find((f) => f.name === LAB_FLAVOR)!;
  const serverName = `icsdn-t-${tag}`;
  const spec = {
    name: serverName,
    imageId: image!,
    flavorId: flavor.id,
    networkId: (await a.findNetwork("private"))!,
    keyName,
    securityGroups: ["default", groupName],
    userData: undefined,
    metadata: {},
  };
  // The lab's Nova (SQLite) now and then fails a build with "database is locked" under load: one
  // more try, so a test is about the mediation, not that.
  let serverId = await a.createServer(spec);
  try {
    await a.waitServer(serverId, "ACTIVE", 120_000);
  } catch {
    await a.deleteServer(serverId);
    await a.waitServer(serverId, "gone", 60_000);
    serverId = await a.createServer(spec);
    await a.waitServer(serverId, "ACTIVE", 120_000);
  }
  const fip = await a.createFloatingIp(serverId, `icsdn-t-${tag}`);
  return { tag, serverName, serverId, fip, groupName, keyName, privateKeyFile };
}

/** Removes whatever a test left in either cloud under its tag (servers first: groups in use cannot go).
 * A lab server's delete once took over 60 s on a loaded machine. */
export async function cleanClouds(names: readonly string[]): Promise<void> {
  for (const driver of [labDriver("lab-a"), labDriver("lab-b")] as CloudDriver[]) {
    for (const name of names) {
      for (const id of await driver.lookupByName("floating_ip", name)) await driver.deleteFloatingIp(id);
      for (const id of await driver.lookupByName("server", name)) {
        await driver.deleteServer(id);
        await driver.waitServer(id, "gone", 120_000);
      }
    }
    for (const name of names) {
      for (const id of await driver.lookupByName("image", name)) await driver.deleteImage(id);
      for (const id of await driver.lookupByName("security_group", name))
        await driver.deleteSecurityGroup(id);
      if ((await driver.lookupByName("keypair", name)).length > 0) await driver.deleteKeyPair(name);
    }
  }
}

/** The controller (real, in this process, OpenFlow on a free port) with a 2-member cluster. */
export async function controllerWithCluster(member: string, endpoint: string): Promise<OfHarness> {
  const h = await startHarness();
  const res = await h.api("POST", "/v1/clusters", {
    id: "c1",
    vni: 4242,
    tunnel: "vxlan",
    members: [
      { vmId: member, vint0: "10.77.0.1", endpoint },
      { vmId: "peer", vint0: "10.77.0.2", endpoint: "198.51.100.2" },
    ],
  });
  if (res.status !== 201) throw new Error(`cluster: ${JSON.stringify(res.body)}`);
  return h;
}

export const memberDpid = datapathIdFor(4242, "10.77.0.1");
