import { describe, expect, it } from "vitest";
import { loadCloudsFile, resolveCloud } from "../../mediation/clouds/clouds-yaml.ts";
import { readText, send } from "../../mediation/clouds/openstack/http.ts";
import { KeystoneSession } from "../../mediation/clouds/openstack/keystone.ts";
import { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import type { MediationError } from "../../mediation/errors.ts";
import { LAB_FLAVOR, labCloudsEnv, labCloudsFile, labDriver } from "./support/clouds.ts";

const cloudsFile = labCloudsFile();

describe.skipIf(!cloudsFile)(
  "the OpenStack driver against the lab's Keystone, Nova, Glance and Neutron",
  () => {
    it("authenticates once, reuses the token, and reads each region's endpoints from the catalog", async () => {
      const file = loadCloudsFile(labCloudsEnv());
      const session = new KeystoneSession(resolveCloud("lab-a", file));
      const first = await session.token();
      expect(await session.token()).toBe(first);
      const a = await session.endpoint("image");
      const b = await new KeystoneSession(resolveCloud("lab-b", file)).endpoint("image");
      expect(a).not.toBe(b);
      expect(await session.endpoint("compute")).toMatch(/\/v2\.1$/);
    });

    it("renews a token that is about to expire", async () => {
      let now = Date.now();
      const session = new KeystoneSession(resolveCloud("lab-a", loadCloudsFile(labCloudsEnv())), () => now);
      const first = await session.token();
      now = first.expiresAt - 60_000;
      const renewed = await session.token();
      expect(renewed.value).not.toBe(first.value);
    });

    it("refuses wrong credentials naming the cloud, never the password", async () => {
      const config = resolveCloud("lab-a", loadCloudsFile(labCloudsEnv()));
      if (config.auth.type !== "password") throw new Error("lab-a uses a password");
      const driver = new OpenStackDriver({
        ...config,
        auth: { ...config.auth, password: "wrong-password-xyz" },
      });
      const err = (await driver.authenticate().catch((e: unknown) => e)) as MediationError;
      expect(err.code).toBe("CLOUD_AUTH");
      expect(err.message).toMatch(/cloud 'lab-a': Keystone refused authentication: HTTP 401/);
      expect(err.message).not.toContain("wrong-password-xyz");
    });

    it("authenticates with an application credential", async () => {
      const config = resolveCloud("lab-a", loadCloudsFile(labCloudsEnv()));
      const session = new KeystoneSession(config);
      const token = await session.token();
      const identity = await session.endpoint("identity");
      const me = await send({
        method: "GET",
        url: `${identity.replace(/\/v3$/, "")}/v3/auth/tokens`,
        headers: { "x-auth-token": token.value, "x-subject-token": token.value },
      });
      const userId = (JSON.parse(await readText(me)) as { token: { user: { id: string } } }).token.user.id;
      const name = `icsdn-test-${process.pid}-${Date.now()}`;
      const created = await send({
        method: "POST",
        url: `${identity.replace(/\/v3$/, "")}/v3/users/${userId}/application_credentials`,
        headers: { "x-auth-token": token.value },
        json: { application_credential: { name } },
      });
      expect(created.statusCode).toBe(201);
      const cred = (
        JSON.parse(await readText(created)) as { application_credential: { id: string; secret: string } }
      ).application_credential;
      try {
        const driver = new OpenStackDriver({
          ...config,
          auth: {
            type: "v3applicationcredential",
            authUrl: config.auth.authUrl,
            id: cred.id,
            secret: cred.secret,
            userDomain: { name: "Default" },
          },
        });
        await driver.authenticate();
        expect(await driver.listFlavors()).not.toHaveLength(0);
      } finally {
        const res = await send({
          method: "DELETE",
          url: `${identity.replace(/\/v3$/, "")}/v3/users/${userId}/application_credentials/${cred.id}`,
          headers: { "x-auth-token": token.value },
        });
        res.resume();
      }
    });

    it("reads flavors, networks, quotas and security groups, and answers unknown things with undefined", async () => {
      const driver = labDriver("lab-b");
      const flavors = await driver.listFlavors();
      expect(flavors.map((f) => f.name)).toContain(LAB_FLAVOR);
      expect(await driver.findNetwork("private")).toMatch(/^[0-9a-f-]{36}$/);
      expect(await driver.findNetwork("no-such-network")).toBeUndefined();
      expect(await driver.findServer("no-such-server")).toBeUndefined();
      expect(await driver.getImage("00000000-0000-0000-0000-000000000000")).toBeUndefined();
      const q = await driver.quotas();
      expect(q.instances.limit).toBeGreaterThan(0);
      expect(q.floatingIps.limit).not.toBe(0);
      expect((await driver.listSecurityGroups()).map((g) => g.name)).toContain("default");
    });

    it("copies a security group with a remote-group rule, and deletes it", async () => {
      const driver = labDriver("lab-b");
      const name = `icsdn-test-sg-${Date.now()}`;
      const id = await driver.createSecurityGroup(name, "test");
      try {
        const rules = [
          {
            direction: "ingress" as const,
            ethertype: "IPv4",
            protocol: "udp",
            portMin: 4789,
            portMax: 4789,
            remoteIpPrefix: "0.0.0.0/0",
            remoteGroupName: null,
          },
          {
            direction: "ingress" as const,
            ethertype: "IPv4",
            protocol: "tcp",
            portMin: 22,
            portMax: 22,
            remoteIpPrefix: null,
            remoteGroupName: name,
          },
        ];
        await driver.addSecurityGroupRules(id, rules, new Map([[name, id]]));
        const group = (await driver.listSecurityGroups()).find((g) => g.id === id)!;
        expect(group.rules).toEqual(expect.arrayContaining(rules));
      } finally {
        await driver.deleteSecurityGroup(id);
      }
      expect(await driver.securityGroupExists(id)).toBe(false);
    });
  },
);
