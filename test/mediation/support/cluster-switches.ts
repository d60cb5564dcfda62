import type { MediationClient } from "../../../mediation/client.ts";
import { type OvsSwitch, startOvsSwitch } from "../../controller/openflow/support/ovs-switch.ts";

/**
 * Plays each new instance's switch (its vm-init would connect icbr0): once a member's migration
 * in the cluster migration announces its new endpoint, a real OVS with the member's dpid connects
 * to the controller's OpenFlow port and is handed to `started`. The member `skip` never connects.
 */
export function playSwitches(
  api: MediationClient,
  clusterMigrationId: string,
  o: {
    readonly dpidOf: ReadonlyMap<string, bigint>;
    readonly controllerPort: number;
    readonly started: (s: OvsSwitch) => void;
    readonly skip?: string;
  },
): void {
  const watched = new Set<string>();
  void (async () => {
    for await (const e of api.clusterEvents(clusterMigrationId)) {
      const migrationId = e.data.migrationId;
      const member = String(e.data.member);
      if (e.type !== "member" || typeof migrationId !== "string" || watched.has(migrationId)) continue;
      watched.add(migrationId);
      if (member === o.skip) continue;
      void (async () => {
        for await (const m of api.events(migrationId)) {
          if (m.type === "announced") {
            o.started(
              startOvsSwitch({ dpid: o.dpidOf.get(member)!, target: `tcp:127.0.0.1:${o.controllerPort}` }),
            );
            return;
          }
        }
      })().catch(() => undefined);
    }
  })().catch(() => undefined);
}
