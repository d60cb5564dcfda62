import { createHash, randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type {
  CloudDriver,
  CloudResourceKind,
  Flavor,
  FloatingIp,
  ImageBody,
  ImageInfo,
  Quotas,
  SecurityGroup,
  ServerInfo,
  ServerSpec,
} from "../../mediation/clouds/cloud-driver.ts";

const FLAVOR: Flavor = { id: "f-tiny", name: "m1.tiny", vcpus: 1, ramMb: 512, diskGb: 1 };
const NETWORK = "net-private";
const QUOTA = { limit: 100_000, used: 0 };

interface Image {
  info: ImageInfo;
  bytes: Buffer;
}

/**
 * A cloud held in memory, answering at once: what lets the cluster coordinator's commit be timed
 * with many members (bench/support/commit-time.ts) where booting as many servers through the
 * lab's Nova is too heavy. Servers, images (their bytes hashed as Glance does), floating IPs;
 * no key pairs or security groups (the members' servers have none). Only the clouds are stand-ins
 * there: the runner, the coordinator, the controller and its switches are the real ones.
 */
export class MemoryCloud implements CloudDriver {
  readonly name: string;
  readonly #servers = new Map<string, ServerInfo>();
  readonly #images = new Map<string, Image>();
  readonly #fips = new Map<string, FloatingIp & { serverId: string; description: string }>();
  readonly #fipPrefix: string;
  #nextFip = 1;

  /** `fipPrefix`: the first three octets of its floating IPs ("192.0.2"). */
  constructor(name: string, fipPrefix: string) {
    this.name = name;
    this.#fipPrefix = fipPrefix;
  }

  /** A running server with a disk of `diskBytes` random bytes and a floating IP (its member's endpoint). */
  addServer(name: string, diskBytes = 64 << 10): { serverId: string; fip: string } {
    const imageId = this.#store(`${name}-disk`, randomBytes(diskBytes));
    const serverId = randomUUID();
    this.#servers.set(serverId, {
      id: serverId,
      name,
      status: "ACTIVE",
      flavor: FLAVOR,
      keyName: undefined,
      securityGroups: [],
      imageId,
      networks: ["private"],
      metadata: {},
    });
    return { serverId, fip: this.#fip(serverId, "").address };
  }

  #store(name: string, bytes: Buffer, id: string = randomUUID()): string {
    this.#images.set(id, {
      bytes,
      info: {
        id,
        name,
        status: "active",
        size: bytes.length,
        diskFormat: "raw",
        containerFormat: "bare",
        hashAlgo: "sha512",
        hashValue: createHash("sha512").update(bytes).digest("hex"),
        checksum: createHash("md5").update(bytes).digest("hex"),
      },
    });
    return id;
  }

  #fip(serverId: string, description: string): FloatingIp {
    const n = this.#nextFip++;
    const fip = {
      id: randomUUID(),
      address: `${this.#fipPrefix}.${n}`,
      serverId,
      description,
    };
    this.#fips.set(fip.id, fip);
    return { id: fip.id, address: fip.address };
  }

  #image(id: string): Image {
    const image = this.#images.get(id);
    if (!image) throw new Error(`${this.name}: no image ${id}`);
    return image;
  }

  async authenticate(): Promise<void> {}

  async findServer(nameOrId: string): Promise<ServerInfo | undefined> {
    return this.#servers.get(nameOrId) ?? [...this.#servers.values()].find((s) => s.name === nameOrId);
  }

  async snapshotServer(serverId: string, imageName: string): Promise<string> {
    const server = this.#servers.get(serverId);
    if (!server?.imageId) throw new Error(`${this.name}: no server ${serverId}`);
    return this.#store(imageName, this.#image(server.imageId).bytes);
  }

  async getImage(imageId: string): Promise<ImageInfo | undefined> {
    return this.#images.get(imageId)?.info;
  }

  async waitImage(imageId: string): Promise<ImageInfo> {
    return this.#image(imageId).info;
  }

  async downloadImage(imageId: string, start: number): Promise<ImageBody> {
    const bytes = this.#image(imageId).bytes.subarray(start);
    return { stream: Readable.from([bytes]), length: bytes.length, start };
  }

  async createImage(meta: { name: string; diskFormat: string; containerFormat: string }): Promise<string> {
    const id = randomUUID();
    this.#images.set(id, {
      bytes: Buffer.alloc(0),
      info: {
        id,
        name: meta.name,
        status: "queued",
        size: undefined,
        diskFormat: meta.diskFormat,
        containerFormat: meta.containerFormat,
        hashAlgo: undefined,
        hashValue: undefined,
        checksum: undefined,
      },
    });
    return id;
  }

  async uploadImage(imageId: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const queued = this.#image(imageId).info;
    const chunks: Buffer[] = [];
    // A copy: the producer may reuse a chunk's memory once it is asked for the next.
    for await (const c of body) chunks.push(Buffer.from(c));
    this.#store(queued.name, Buffer.concat(chunks), imageId);
    const stored = this.#image(imageId);
    stored.info = { ...stored.info, diskFormat: queued.diskFormat, containerFormat: queued.containerFormat };
  }

  async deleteImage(imageId: string): Promise<void> {
    this.#images.delete(imageId);
  }

  async acceptedDiskFormats(): Promise<readonly string[] | undefined> {
    return undefined;
  }

  async listFlavors(): Promise<readonly Flavor[]> {
    return [FLAVOR];
  }

  mappedFlavor(): string | undefined {
    return undefined;
  }

  async hasKeyPair(): Promise<boolean> {
    return false;
  }

  async getKeyPairPublicKey(): Promise<string | undefined> {
    return undefined;
  }

  async importKeyPair(name: string): Promise<void> {
    throw new Error(`${this.name}: key pairs are not kept (${name})`);
  }

  async deleteKeyPair(): Promise<void> {}

  async listSecurityGroups(): Promise<readonly SecurityGroup[]> {
    return [];
  }

  async createSecurityGroup(name: string): Promise<string> {
    throw new Error(`${this.name}: security groups are not kept (${name})`);
  }

  async addSecurityGroupRules(): Promise<void> {}

  async deleteSecurityGroup(): Promise<void> {}

  async findNetwork(nameOrId: string): Promise<string | undefined> {
    return nameOrId === "private" || nameOrId === NETWORK ? NETWORK : undefined;
  }

  async quotas(): Promise<Quotas> {
    return { instances: QUOTA, cores: QUOTA, ramMb: QUOTA, floatingIps: QUOTA, securityGroups: QUOTA };
  }

  async createServer(spec: ServerSpec): Promise<string> {
    const id = randomUUID();
    this.#servers.set(id, {
      id,
      name: spec.name,
      status: "ACTIVE",
      flavor: FLAVOR,
      keyName: spec.keyName,
      securityGroups: spec.securityGroups,
      imageId: spec.imageId,
      networks: ["private"],
      metadata: spec.metadata,
    });
    return id;
  }

  async waitServer(serverId: string, status: "ACTIVE" | "gone"): Promise<void> {
    if ((status === "gone") === this.#servers.has(serverId))
      throw new Error(`${this.name}: server ${serverId} is not ${status}`);
  }

  async deleteServer(serverId: string): Promise<void> {
    this.#servers.delete(serverId);
  }

  /** No console: these servers boot nothing (the bench runs no link check). */
  async consoleOutput(_serverId: string): Promise<string> {
    return "";
  }

  async serverExists(serverId: string): Promise<boolean> {
    return this.#servers.has(serverId);
  }

  async imageExists(imageId: string): Promise<boolean> {
    return this.#images.has(imageId);
  }

  async createFloatingIp(serverId: string, description: string): Promise<FloatingIp> {
    return this.#fip(serverId, description);
  }

  async lookupByName(kind: CloudResourceKind, name: string): Promise<readonly string[]> {
    const named = <T extends { id: string }>(xs: Iterable<T>, nameOf: (x: T) => string) =>
      [...xs].filter((x) => nameOf(x) === name).map((x) => x.id);
    if (kind === "server") return named(this.#servers.values(), (s) => s.name);
    if (kind === "image")
      return named(
        [...this.#images.values()].map((i) => i.info),
        (i) => i.name,
      );
    if (kind === "floating_ip") return named(this.#fips.values(), (f) => f.description);
    return [];
  }

  async serverFloatingIps(serverId: string): Promise<readonly FloatingIp[]> {
    return [...this.#fips.values()]
      .filter((f) => f.serverId === serverId)
      .map((f) => ({ id: f.id, address: f.address }));
  }

  async serverOfFloatingIp(address: string): Promise<string | undefined> {
    return [...this.#fips.values()].find((f) => f.address === address)?.serverId;
  }

  async floatingIpExists(id: string): Promise<boolean> {
    return this.#fips.has(id);
  }

  async deleteFloatingIp(id: string): Promise<void> {
    this.#fips.delete(id);
  }

  async securityGroupExists(): Promise<boolean> {
    return false;
  }
}
