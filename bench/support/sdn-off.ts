import type { ControllerPort } from "../../mediation/ports/controller.ts";

/**
 * Figure 7's "without SDN" case: the mediation service's controller port with the controller's
 * part of a migration taken out. Members are still found (the cluster's members and their
 * endpoints, for discovery and the pre-checks), but nothing is announced, rebound or withdrawn,
 * and the new instance's switch counts as connected at once (a fresh session on every ask), so a
 * migration is a plain one: snapshot, transfer, boot, floating IP, release. Served with no link
 * checker, the same migrations then skip the ssh check too. The peers keep the member's old
 * endpoint: a cluster moved this way is not linked afterwards.
 */
export function withoutSdn(port: ControllerPort): ControllerPort {
  let session = 0;
  return {
    findMember: (vmId) => port.findMember(vmId),
    clusterMembers: (clusterId) => port.clusterMembers(clusterId),
    announce: async () => undefined,
    withdraw: async () => undefined,
    rebind: async () => undefined,
    switchSession: async () => ({
      connected: true,
      remoteAddress: `sdn-off:${++session}`,
      connectedForMs: 0,
    }),
    ready: () => port.ready(),
  };
}
