import { ControllerClient, ControllerClientError } from "../../contract/controller-api/index.ts";
import type { ControllerMember, ControllerPort, MemberEndpoint, SwitchSession } from "./controller.ts";

/** The runner's view of the controller, over the contract's one typed client of its REST API. */
export class ControllerClientPort implements ControllerPort {
  readonly #client: ControllerClient;

  constructor(options: { url: string; token?: string | undefined }) {
    this.#client = new ControllerClient(options);
  }

  async findMember(
    vmId: string,
  ): Promise<{ member: ControllerMember; peers: readonly ControllerMember[] } | undefined> {
    for (const cluster of await this.#client.listClusters()) {
      const members = await this.#client.listMembers(cluster.id);
      const member = members.find((m) => m.vmId === vmId);
      if (member) return { member, peers: members.filter((m) => m.vmId !== vmId) };
    }
    return undefined;
  }

  async clusterMembers(clusterId: string): Promise<readonly ControllerMember[] | undefined> {
    try {
      return await this.#client.listMembers(clusterId);
    } catch (err) {
      if (err instanceof ControllerClientError && err.remoteStatus === 404) return undefined;
      throw err;
    }
  }

  async announce(clusterId: string, vmId: string, endpoint: string): Promise<void> {
    await this.#client.announceNextEndpoint(clusterId, vmId, endpoint);
  }

  async withdraw(clusterId: string, vmId: string): Promise<void> {
    try {
      await this.#client.withdrawNextEndpoint(clusterId, vmId);
    } catch (err) {
      // Withdrawing is undoing: a member already gone has nothing announced.
      if (!(err instanceof ControllerClientError && err.remoteStatus === 404)) throw err;
    }
  }

  async rebind(clusterId: string, vmId: string, endpoint: string): Promise<void> {
    await this.#client.rebind(clusterId, vmId, endpoint);
  }

  async rebindBatch(clusterId: string, rebinds: readonly MemberEndpoint[]): Promise<void> {
    await this.#client.rebindBatch(clusterId, rebinds);
  }

  async switchSession(clusterId: string, vmId: string): Promise<SwitchSession | undefined> {
    // The newest session: a moved VM's old and new instance are both listed, oldest first.
    const s = (await this.#client.listSwitches({ clusterId, vmId })).findLast(
      (x) => x.clusterId === clusterId && x.vmId === vmId,
    );
    return s && { connected: s.connected, remoteAddress: s.remoteAddress, connectedForMs: s.connectedForMs };
  }

  async ready(): Promise<boolean> {
    try {
      await this.#client.listClusters();
      return true;
    } catch {
      return false;
    }
  }
}
