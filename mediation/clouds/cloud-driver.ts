import type { Readable } from "node:stream";

export interface ServerInfo {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly flavor: FlavorSpec;
  readonly keyName: string | undefined;
  readonly securityGroups: readonly string[];
  /** The image the server booted from (for its disk and container formats). */
  readonly imageId: string | undefined;
  readonly networks: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

export interface FlavorSpec {
  readonly name: string;
  readonly vcpus: number;
  readonly ramMb: number;
  readonly diskGb: number;
}

export interface Flavor extends FlavorSpec {
  readonly id: string;
}

export interface ImageInfo {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly size: number | undefined;
  readonly diskFormat: string | undefined;
  readonly containerFormat: string | undefined;
  /** Glance's multihash (os_hash_algo is usually sha512) and the legacy md5 checksum. */
  readonly hashAlgo: string | undefined;
  readonly hashValue: string | undefined;
  readonly checksum: string | undefined;
}

export interface ImageBody {
  /** The bytes as a stream; destroying it drops the download. */
  readonly stream: Readable;
  /**
   * Offered by a driver that can read the body straight into the caller's memory (no buffer per
   * socket read): fills `target`, fewer bytes only at the end or when the download broke (the next
   * call throws), 0 after the end. Use it or `stream`'s data, not both.
   */
  readonly readInto?: (target: Buffer) => Promise<number>;
  /** Bytes this response carries (from `start` to the end). */
  readonly length: number | undefined;
  /** The first byte's offset: 0, or what a Range request asked for. */
  readonly start: number;
}

export interface SecurityGroupRule {
  readonly direction: "ingress" | "egress";
  readonly ethertype: string;
  readonly protocol: string | null;
  readonly portMin: number | null;
  readonly portMax: number | null;
  readonly remoteIpPrefix: string | null;
  /** A rule that admits members of a group, by that group's name (ids differ between clouds). */
  readonly remoteGroupName: string | null;
}

export interface SecurityGroup {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly rules: readonly SecurityGroupRule[];
}

export interface Quota {
  readonly limit: number;
  readonly used: number;
}

export interface Quotas {
  readonly instances: Quota;
  readonly cores: Quota;
  readonly ramMb: Quota;
  readonly floatingIps: Quota;
  readonly securityGroups: Quota;
}

export interface ServerSpec {
  readonly name: string;
  readonly imageId: string;
  readonly flavorId: string;
  readonly networkId: string;
  readonly keyName: string | undefined;
  readonly securityGroups: readonly string[];
  readonly userData: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

export type CloudResourceKind = "image" | "server" | "security_group" | "floating_ip" | "keypair";

export interface FloatingIp {
  readonly id: string;
  readonly address: string;
}

/**
 * What a cloud must offer for a migration. Every method that creates something returns its id at
 * once; waiting is separate, so the journal can hold the id before the wait.
 */
export interface CloudDriver {
  readonly name: string;
  authenticate(): Promise<void>;
  findServer(nameOrId: string): Promise<ServerInfo | undefined>;
  /** Nova createImage: the snapshot's image id (the image fills asynchronously). */
  snapshotServer(serverId: string, imageName: string): Promise<string>;
  getImage(imageId: string): Promise<ImageInfo | undefined>;
  waitImage(imageId: string, status: "active", deadlineMs: number): Promise<ImageInfo>;
  /** Glance download from byte `start` (a Range request when > 0). */
  downloadImage(imageId: string, start: number): Promise<ImageBody>;
  createImage(meta: {
    name: string;
    diskFormat: string;
    containerFormat: string;
    properties: Record<string, string>;
  }): Promise<string>;
  /**
   * Glance upload (one PUT; Glance cannot resume one). A chunk of `body` is sent before the next
   * is asked for: its producer may reuse the chunk's memory from then on (the stream does).
   */
  uploadImage(imageId: string, body: AsyncIterable<Uint8Array>): Promise<void>;
  deleteImage(imageId: string): Promise<void>;
  acceptedDiskFormats(): Promise<readonly string[] | undefined>;
  listFlavors(): Promise<readonly Flavor[]>;
  /** An explicit mapping from clouds.yaml, if any, for a source flavor name. */
  mappedFlavor(sourceName: string): string | undefined;
  hasKeyPair(name: string): Promise<boolean>;
  getKeyPairPublicKey(name: string): Promise<string | undefined>;
  importKeyPair(name: string, publicKey: string): Promise<void>;
  deleteKeyPair(name: string): Promise<void>;
  listSecurityGroups(): Promise<readonly SecurityGroup[]>;
  createSecurityGroup(name: string, description: string): Promise<string>;
  addSecurityGroupRules(
    groupId: string,
    rules: readonly SecurityGroupRule[],
    groupIdsByName: ReadonlyMap<string, string>,
  ): Promise<void>;
  deleteSecurityGroup(groupId: string): Promise<void>;
  findNetwork(nameOrId: string): Promise<string | undefined>;
  quotas(): Promise<Quotas>;
  createServer(spec: ServerSpec): Promise<string>;
  /** ACTIVE: fails on ERROR. gone: after deleteServer; a delete the cloud accepted but dropped is sent again. */
  waitServer(serverId: string, status: "ACTIVE" | "gone", deadlineMs: number): Promise<void>;
  deleteServer(serverId: string): Promise<void>;
  serverExists(serverId: string): Promise<boolean>;
  /** What the server printed on its console (cloud-init prints the ssh host keys there). */
  consoleOutput(serverId: string): Promise<string>;
  imageExists(imageId: string): Promise<boolean>;
  /** A floating IP on the external network, attached to the server's first port, `description` set. */
  createFloatingIp(serverId: string, description: string): Promise<FloatingIp>;
  /** Ids of the resources of a kind that carry this name (floating IPs: this description). */
  lookupByName(kind: CloudResourceKind, name: string): Promise<readonly string[]>;
  /** Floating IPs attached to the server's ports. */
  serverFloatingIps(serverId: string): Promise<readonly FloatingIp[]>;
  /** The id of this project's server that holds the floating IP, if any (a cluster's discovery). */
  serverOfFloatingIp(address: string): Promise<string | undefined>;
  floatingIpExists(id: string): Promise<boolean>;
  deleteFloatingIp(id: string): Promise<void>;
  securityGroupExists(id: string): Promise<boolean>;
}
