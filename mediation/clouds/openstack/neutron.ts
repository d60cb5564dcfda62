import { MediationError } from "../../errors.ts";
import type { FloatingIp, Quota, SecurityGroup, SecurityGroupRule } from "../cloud-driver.ts";
import type { OpenStackApi } from "./api.ts";

interface NeutronRule {
  direction: "ingress" | "egress";
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
}

interface NeutronGroup {
  id: string;
  name: string;
  description: string;
  security_group_rules: NeutronRule[];
}

/** Neutron networking API v2.0: networks, ports, security groups, floating IPs, quotas. */
export class Neutron {
  readonly #api: OpenStackApi;

  constructor(api: OpenStackApi) {
    this.#api = api;
  }

  async findNetwork(nameOrId: string): Promise<{ id: string; external: boolean } | undefined> {
    for (const query of [`id=${encodeURIComponent(nameOrId)}`, `name=${encodeURIComponent(nameOrId)}`]) {
      const { networks } = await this.#api.json<{ networks: { id: string; "router:external": boolean }[] }>(
        "network",
        "GET",
        `/v2.0/networks?${query}`,
      );
      if (networks[0]) return { id: networks[0].id, external: networks[0]["router:external"] };
    }
    return undefined;
  }

  async externalNetwork(name: string | undefined): Promise<string> {
    if (name) {
      const net = await this.findNetwork(name);
      if (net) return net.id;
    } else {
      const { networks } = await this.#api.json<{ networks: { id: string }[] }>(
        "network",
        "GET",
        "/v2.0/networks?router:external=true",
      );
      if (networks[0]) return networks[0].id;
    }
    throw new MediationError(
      "CLOUD_API",
      `cloud '${this.#api.cloud}': no external network${name ? ` '${name}'` : ""} for floating IPs`,
    );
  }

  async serverPorts(serverId: string): Promise<string[]> {
    const { ports } = await this.#api.json<{ ports: { id: string }[] }>(
      "network",
      "GET",
      `/v2.0/ports?device_id=${serverId}`,
    );
    return ports.map((p) => p.id);
  }

  async securityGroups(): Promise<SecurityGroup[]> {
    const projectId = await this.#api.session.projectId();
    const { security_groups } = await this.#api.json<{ security_groups: NeutronGroup[] }>(
      "network",
      "GET",
      `/v2.0/security-groups?project_id=${projectId}`,
    );
    const names = new Map(security_groups.map((g) => [g.id, g.name]));
    return security_groups.map((g) => ({
      id: g.id,
      name: g.name,
      description: g.description,
      rules: g.security_group_rules.map((r) => ({
        direction: r.direction,
        ethertype: r.ethertype,
        protocol: r.protocol,
        portMin: r.port_range_min,
        portMax: r.port_range_max,
        remoteIpPrefix: r.remote_ip_prefix,
        remoteGroupName: r.remote_group_id === null ? null : (names.get(r.remote_group_id) ?? null),
      })),
    }));
  }

  async createSecurityGroup(name: string, description: string): Promise<string> {
    const { security_group } = await this.#api.json<{ security_group: { id: string } }>(
      "network",
      "POST",
      "/v2.0/security-groups",
      {
        json: { security_group: { name, description } },
      },
    );
    return security_group.id;
  }

  /** Adds the rules; a rule Neutron already has (409, e.g. the default egress ones) is skipped. */
  async addRules(
    groupId: string,
    rules: readonly SecurityGroupRule[],
    groupIdsByName: ReadonlyMap<string, string>,
  ): Promise<void> {
    for (const r of rules) {
      const remoteGroupId = r.remoteGroupName === null ? null : groupIdsByName.get(r.remoteGroupName);
      if (remoteGroupId === undefined) {
        throw new MediationError(
          "CLOUD_API",
          `cloud '${this.#api.cloud}': no security group '${r.remoteGroupName}' for a remote-group rule`,
        );
      }
      const res = await this.#api.raw("network", "POST", "/v2.0/security-group-rules", {
        json: {
          security_group_rule: {
            security_group_id: groupId,
            direction: r.direction,
            ethertype: r.ethertype,
            protocol: r.protocol,
            port_range_min: r.portMin,
            port_range_max: r.portMax,
            remote_ip_prefix: r.remoteIpPrefix,
            remote_group_id: remoteGroupId,
          },
        },
        ok: [201, 409],
      });
      res.resume();
    }
  }

  async deleteSecurityGroup(id: string): Promise<void> {
    await this.#api.remove("network", `/v2.0/security-groups/${id}`);
  }

  async securityGroupExists(id: string): Promise<boolean> {
    return (await this.#api.find("network", `/v2.0/security-groups/${id}`)) !== undefined;
  }

  async floatingIpsByDescription(description: string): Promise<string[]> {
    const { floatingips } = await this.#api.json<{ floatingips: { id: string; description: string }[] }>(
      "network",
      "GET",
      "/v2.0/floatingips",
    );
    return floatingips.filter((f) => f.description === description).map((f) => f.id);
  }

  async createFloatingIp(networkId: string, portId: string, description: string): Promise<FloatingIp> {
    const { floatingip } = await this.#api.json<{ floatingip: { id: string; floating_ip_address: string } }>(
      "network",
      "POST",
      "/v2.0/floatingips",
      {
        json: { floatingip: { floating_network_id: networkId, port_id: portId, description } },
      },
    );
    return { id: floatingip.id, address: floatingip.floating_ip_address };
  }

  async floatingIpsOfPorts(portIds: readonly string[]): Promise<FloatingIp[]> {
    const out: FloatingIp[] = [];
    for (const port of portIds) {
      const { floatingips } = await this.#api.json<{
        floatingips: { id: string; floating_ip_address: string }[];
      }>("network", "GET", `/v2.0/floatingips?port_id=${port}`);
      out.push(...floatingips.map((f) => ({ id: f.id, address: f.floating_ip_address })));
    }
    return out;
  }

  /** The server (port's device) a floating IP of this project is attached to. */
  async serverOfFloatingIp(address: string): Promise<string | undefined> {
    const projectId = await this.#api.session.projectId();
    const { floatingips } = await this.#api.json<{ floatingips: { port_id: string | null }[] }>(
      "network",
      "GET",
      `/v2.0/floatingips?floating_ip_address=${encodeURIComponent(address)}&project_id=${projectId}`,
    );
    const portId = floatingips.find((f) => f.port_id)?.port_id;
    if (!portId) return undefined;
    const port = await this.#api.find<{ port: { device_id: string } }>("network", `/v2.0/ports/${portId}`);
    return port?.port.device_id || undefined;
  }

  async floatingIpExists(id: string): Promise<boolean> {
    return (await this.#api.find("network", `/v2.0/floatingips/${id}`)) !== undefined;
  }

  async deleteFloatingIp(id: string): Promise<void> {
    await this.#api.remove("network", `/v2.0/floatingips/${id}`);
  }

  async quotas(): Promise<{ floatingIps: Quota; securityGroups: Quota }> {
    const projectId = await this.#api.session.projectId();
    const { quota } = await this.#api.json<{ quota: Record<string, { limit: number; used: number }> }>(
      "network",
      "GET",
      `/v2.0/quotas/${projectId}/details`,
    );
    const q = (k: string): Quota => ({ limit: quota[k]?.limit ?? -1, used: quota[k]?.used ?? 0 });
    return { floatingIps: q("floatingip"), securityGroups: q("security_group") };
  }
}
