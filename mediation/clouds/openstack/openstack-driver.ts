import { MediationError } from "../../errors.ts";
import type {
  CloudDriver,
  CloudResourceKind,
  Flavor,
  FloatingIp,
  ImageBody,
  ImageInfo,
  Quotas,
  SecurityGroup,
  SecurityGroupRule,
  ServerInfo,
  ServerSpec,
} from "../cloud-driver.ts";
import type { CloudConfig } from "../clouds-yaml.ts";
import { pollUntil } from "../poll.ts";
import { OpenStackApi } from "./api.ts";
import { Glance } from "./glance.ts";
import { KeystoneSession } from "./keystone.ts";
import { Neutron } from "./neutron.ts";
import { deleteProgress, Nova } from "./nova.ts";

const timeout = (cloud: string) => (what: string) =>
  new MediationError("CLOUD_TIMEOUT", `cloud '${cloud}': ${what}`);

/** A CloudDriver over OpenStack's own APIs (Keystone v3, Nova 2.1, Glance v2, Neutron v2.0). */
export class OpenStackDriver implements CloudDriver {
  readonly name: string;
  readonly #config: CloudConfig;
  readonly #api: OpenStackApi;
  readonly #nova: Nova;
  readonly #glance: Glance;
  readonly #neutron: Neutron;

  constructor(config: CloudConfig) {
    this.name = config.name;
    this.#config = config;
    this.#api = new OpenStackApi(config.name, new KeystoneSession(config));
    this.#nova = new Nova(this.#api);
    this.#glance = new Glance(this.#api);
    this.#neutron = new Neutron(this.#api);
  }

  async authenticate(): Promise<void> {
    await this.#api.session.token();
  }

  /** A service's URL from the catalog (or its override). */
  endpoint(type: string): Promise<string> {
    return this.#api.session.endpoint(type);
  }

  findServer(nameOrId: string): Promise<ServerInfo | undefined> {
    return this.#nova.findServer(nameOrId);
  }

  snapshotServer(serverId: string, imageName: string): Promise<string> {
    return this.#nova.createImage(serverId, imageName);
  }

  getImage(imageId: string): Promise<ImageInfo | undefined> {
    return this.#glance.get(imageId);
  }

  waitImage(imageId: string, status: "active", deadlineMs: number): Promise<ImageInfo> {
    return pollUntil(
      async () => {
        const image = await this.#glance.get(imageId);
        if (!image || image.status === "killed" || image.status === "deleted") {
          throw new MediationError(
            "CLOUD_API",
            `cloud '${this.name}': image ${imageId} is ${image?.status ?? "gone"}`,
          );
        }
        return image.status === status ? image : undefined;
      },
      {
        deadlineMs,
        what: `image ${imageId} not ${status} after ${deadlineMs} ms`,
        onTimeout: timeout(this.name),
      },
    );
  }

  downloadImage(imageId: string, start: number): Promise<ImageBody> {
    return this.#glance.download(imageId, start);
  }

  createImage(meta: {
    name: string;
    diskFormat: string;
    containerFormat: string;
    properties: Record<string, string>;
  }): Promise<string> {
    return this.#glance.create(meta);
  }

  uploadImage(imageId: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    return this.#glance.upload(imageId, body);
  }

  deleteImage(imageId: string): Promise<void> {
    return this.#glance.remove(imageId);
  }

  async imageExists(imageId: string): Promise<boolean> {
    const image = await this.#glance.get(imageId);
    return image !== undefined && image.status !== "deleted";
  }

  async acceptedDiskFormats(): Promise<readonly string[] | undefined> {
    return this.#config.diskFormats ?? (await this.#glance.diskFormats());
  }

  listFlavors(): Promise<readonly Flavor[]> {
    return this.#nova.flavors();
  }

  mappedFlavor(sourceName: string): string | undefined {
    return this.#config.flavorMap[sourceName];
  }

  async hasKeyPair(name: string): Promise<boolean> {
    return (await this.#nova.keyPair(name)) !== undefined;
  }

  getKeyPairPublicKey(name: string): Promise<string | undefined> {
    return this.#nova.keyPair(name);
  }

  importKeyPair(name: string, publicKey: string): Promise<void> {
    return this.#nova.importKeyPair(name, publicKey);
  }

  deleteKeyPair(name: string): Promise<void> {
    return this.#nova.deleteKeyPair(name);
  }

  listSecurityGroups(): Promise<readonly SecurityGroup[]> {
    return this.#neutron.securityGroups();
  }

  createSecurityGroup(name: string, description: string): Promise<string> {
    return this.#neutron.createSecurityGroup(name, description);
  }

  addSecurityGroupRules(
    groupId: string,
    rules: readonly SecurityGroupRule[],
    groupIdsByName: ReadonlyMap<string, string>,
  ): Promise<void> {
    return this.#neutron.addRules(groupId, rules, groupIdsByName);
  }

  deleteSecurityGroup(groupId: string): Promise<void> {
    return this.#neutron.deleteSecurityGroup(groupId);
  }

  securityGroupExists(id: string): Promise<boolean> {
    return this.#neutron.securityGroupExists(id);
  }

  async findNetwork(nameOrId: string): Promise<string | undefined> {
    return (await this.#neutron.findNetwork(nameOrId))?.id;
  }

  async quotas(): Promise<Quotas> {
    const l = await this.#nova.limits();
    const n = await this.#neutron.quotas();
    return {
      instances: { limit: l.maxTotalInstances ?? -1, used: l.totalInstancesUsed ?? 0 },
      cores: { limit: l.maxTotalCores ?? -1, used: l.totalCoresUsed ?? 0 },
      ramMb: { limit: l.maxTotalRAMSize ?? -1, used: l.totalRAMUsed ?? 0 },
      floatingIps: n.floatingIps,
      securityGroups: n.securityGroups,
    };
  }

  createServer(spec: ServerSpec): Promise<string> {
    return this.#nova.createServer(spec);
  }

  async waitServer(serverId: string, status: "ACTIVE" | "gone", deadlineMs: number): Promise<void> {
    await pollUntil(
      async () => {
        if (status === "gone") {
          const progress = deleteProgress(await this.#nova.state(serverId));
          // Sent again at once: waiting on a dropped delete would only end at the deadline.
          if (progress === "dropped") await this.#nova.deleteServer(serverId);
          return progress === "gone" ? true : undefined;
        }
        const now = await this.#nova.status(serverId);
        if (now === undefined || now === "ERROR") {
          throw new MediationError(
            "CLOUD_API",
            `cloud '${this.name}': server ${serverId} is ${now ?? "gone"}`,
          );
        }
        return now === status ? true : undefined;
      },
      {
        deadlineMs,
        what: `server ${serverId} not ${status} after ${deadlineMs} ms`,
        onTimeout: timeout(this.name),
      },
    );
  }

  deleteServer(serverId: string): Promise<void> {
    return this.#nova.deleteServer(serverId);
  }

  consoleOutput(serverId: string): Promise<string> {
    return this.#nova.consoleOutput(serverId);
  }

  async serverExists(serverId: string): Promise<boolean> {
    const status = await this.#nova.status(serverId);
    return status !== undefined && status !== "DELETED";
  }

  async createFloatingIp(serverId: string, description: string): Promise<FloatingIp> {
    const [port] = await this.#neutron.serverPorts(serverId);
    if (!port)
      throw new MediationError(
        "CLOUD_API",
        `cloud '${this.name}': server ${serverId} has no port for a floating IP`,
      );
    return this.#neutron.createFloatingIp(
      await this.#neutron.externalNetwork(this.#config.externalNetwork),
      port,
      description,
    );
  }

  async lookupByName(kind: CloudResourceKind, name: string): Promise<readonly string[]> {
    switch (kind) {
      case "image":
        return this.#glance.idsByName(name);
      case "server":
        return this.#nova.idsByName(name);
      case "keypair":
        return (await this.#nova.keyPair(name)) === undefined ? [] : [name];
      case "security_group":
        return (await this.#neutron.securityGroups()).filter((g) => g.name === name).map((g) => g.id);
      case "floating_ip":
        return this.#neutron.floatingIpsByDescription(name);
    }
  }

  async serverFloatingIps(serverId: string): Promise<readonly FloatingIp[]> {
    return this.#neutron.floatingIpsOfPorts(await this.#neutron.serverPorts(serverId));
  }

  serverOfFloatingIp(address: string): Promise<string | undefined> {
    return this.#neutron.serverOfFloatingIp(address);
  }

  floatingIpExists(id: string): Promise<boolean> {
    return this.#neutron.floatingIpExists(id);
  }

  deleteFloatingIp(id: string): Promise<void> {
    return this.#neutron.deleteFloatingIp(id);
  }
}
