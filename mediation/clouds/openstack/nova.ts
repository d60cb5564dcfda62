import type { Flavor, ServerInfo, ServerSpec } from "../cloud-driver.ts";
import type { OpenStackApi } from "./api.ts";

interface NovaServer {
  id: string;
  name: string;
  status: string;
  "OS-EXT-STS:task_state"?: string | null;
  flavor: { original_name: string; vcpus: number; ram: number; disk: number };
  key_name: string | null;
  security_groups?: { name: string }[];
  image: { id: string } | "";
  addresses: Record<string, unknown>;
  metadata: Record<string, string>;
}

export interface ServerState {
  readonly status: string;
  readonly taskState: string | null;
}

/**
 * Where a delete Nova accepted (204) stands. Nova sets the task state `deleting` before it answers,
 * and only nova-compute ends it: the server is gone, or, when a step of the compute's delete
 * failed, the task state is reverted (the server back as it was) or the server is ERROR. Then the
 * delete was dropped, and only a new DELETE removes the server: Nova ignores one sent while the
 * task state is still `deleting`.
 */
export function deleteProgress(state: ServerState | undefined): "gone" | "deleting" | "dropped" {
  if (state === undefined || state.status === "DELETED") return "gone";
  if (state.taskState === "deleting" || state.status === "SOFT_DELETED") return "deleting";
  return "dropped";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Nova compute API v2.1 at NOVA_MICROVERSION: servers, snapshots, flavors, key pairs, limits. */
export class Nova {
  readonly #api: OpenStackApi;

  constructor(api: OpenStackApi) {
    this.#api = api;
  }

  async findServer(nameOrId: string): Promise<ServerInfo | undefined> {
    if (UUID.test(nameOrId)) {
      const found = await this.#api.find<{ server: NovaServer }>("compute", `/servers/${nameOrId}`);
      if (found) return view(found.server);
    }
    const { servers } = await this.#api.json<{ servers: NovaServer[] }>(
      "compute",
      "GET",
      `/servers/detail?name=${encodeURIComponent(`^${escapeRegex(nameOrId)}$`)}`,
    );
    return servers[0] && view(servers[0]);
  }

  async idsByName(name: string): Promise<string[]> {
    const { servers } = await this.#api.json<{ servers: { id: string; name: string }[] }>(
      "compute",
      "GET",
      `/servers?name=${encodeURIComponent(`^${escapeRegex(name)}$`)}`,
    );
    return servers.filter((s) => s.name === name).map((s) => s.id);
  }

  async status(serverId: string): Promise<string | undefined> {
    return (await this.state(serverId))?.status;
  }

  /** The server's status and task state (undefined: it is gone). */
  async state(serverId: string): Promise<ServerState | undefined> {
    const found = await this.#api.find<{ server: NovaServer }>("compute", `/servers/${serverId}`);
    return found && { status: found.server.status, taskState: found.server["OS-EXT-STS:task_state"] ?? null };
  }

  async createImage(serverId: string, name: string): Promise<string> {
    const { image_id } = await this.#api.json<{ image_id: string }>(
      "compute",
      "POST",
      `/servers/${serverId}/action`,
      {
        json: { createImage: { name, metadata: {} } },
      },
    );
    return image_id;
  }

  /** os-getConsoleOutput: what the server printed on its console, whole. */
  async consoleOutput(serverId: string): Promise<string> {
    const { output } = await this.#api.json<{ output: string }>(
      "compute",
      "POST",
      `/servers/${serverId}/action`,
      {
        json: { "os-getConsoleOutput": {} },
      },
    );
    return output;
  }

  async createServer(spec: ServerSpec): Promise<string> {
    const { server } = await this.#api.json<{ server: { id: string } }>("compute", "POST", "/servers", {
      json: {
        server: {
          name: spec.name,
          imageRef: spec.imageId,
          flavorRef: spec.flavorId,
          networks: [{ uuid: spec.networkId }],
          ...(spec.keyName && { key_name: spec.keyName }),
          security_groups: spec.securityGroups.map((name) => ({ name })),
          ...(spec.userData !== undefined && { user_data: Buffer.from(spec.userData).toString("base64") }),
          metadata: spec.metadata,
        },
      },
    });
    return server.id;
  }

  async deleteServer(serverId: string): Promise<void> {
    await this.#api.remove("compute", `/servers/${serverId}`);
  }

  async flavors(): Promise<Flavor[]> {
    const { flavors } = await this.#api.json<{
      flavors: { id: string; name: string; vcpus: number; ram: number; disk: number }[];
    }>("compute", "GET", "/flavors/detail");
    return flavors.map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ramMb: f.ram, diskGb: f.disk }));
  }

  async keyPair(name: string): Promise<string | undefined> {
    const found = await this.#api.find<{ keypair: { public_key: string } }>(
      "compute",
      `/os-keypairs/${encodeURIComponent(name)}`,
    );
    return found?.keypair.public_key;
  }

  async importKeyPair(name: string, publicKey: string): Promise<void> {
    await this.#api.json("compute", "POST", "/os-keypairs", {
      json: { keypair: { name, public_key: publicKey } },
    });
  }

  async deleteKeyPair(name: string): Promise<void> {
    await this.#api.remove("compute", `/os-keypairs/${encodeURIComponent(name)}`);
  }

  async limits(): Promise<Record<string, number>> {
    const { limits } = await this.#api.json<{ limits: { absolute: Record<string, number> } }>(
      "compute",
      "GET",
      "/limits",
    );
    return limits.absolute;
  }
}

function view(s: NovaServer): ServerInfo {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    flavor: {
      name: s.flavor.original_name,
      vcpus: s.flavor.vcpus,
      ramMb: s.flavor.ram,
      diskGb: s.flavor.disk,
    },
    keyName: s.key_name ?? undefined,
    securityGroups: [...new Set((s.security_groups ?? []).map((g) => g.name))],
    imageId: typeof s.image === "object" ? s.image.id : undefined,
    networks: Object.keys(s.addresses),
    metadata: s.metadata,
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
