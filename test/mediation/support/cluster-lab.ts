import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll } from "vitest";
import { datapathIdFor } from "../../../contract/dataplane/index.ts";
import type { ClusterMigrationView } from "../../../mediation/api/cluster-views.ts";
import { MediationClient } from "../../../mediation/client.ts";
import { Journal } from "../../../mediation/journal/journal.ts";
import { type OfHarness, startHarness } from "../../controller/openflow/support/harness.ts";
import { type OvsSwitch, startOvsSwitch, stopAllOvs } from "../../controller/openflow/support/ovs-switch.ts";
import { labCloudsEnv } from "./clouds.ts";
import { cleanClouds, TOKEN } from "./service.ts";
import { type ServiceProcess, startServiceProcess } from "./service-process.ts";

export interface ClusterLabOptions {
  readonly clusterId: string;
  readonly vni: number;
  readonly members: readonly { readonly vmId: string; readonly vint0: string }[];
  /**
   * Boots the members' source servers in lab-a (`tag` makes their names unique): their floating
   * addresses in member order, and the name prefixes the cleanup removes from both clouds.
   */
  readonly boot: (dir: string, tag: string) => Promise<{ endpoints: string[]; names: string[] }>;
}

/**
 * A cluster whose servers live in the lab's clouds, one controller knowing it, and a mediation
 * service in its own process (so a case can kill it). Registers the suite's hooks: everything it
 * made (servers, what the migrations created, switches, the service, the folder) is gone after.
 */
export class ClusterLab {
  readonly dir = join(tmpdir(), `icsdn-cluster-${process.pid}-${Date.now()}`);
  readonly db = join(this.dir, "mediation.db");
  readonly tag = `${process.pid}-${Date.now() % 1e6}`;
  #controller: OfHarness | undefined;
  #proc: ServiceProcess | undefined;
  #api: MediationClient | undefined;
  #switches: OvsSwitch[] = [];
  readonly #dpidOf: ReadonlyMap<string, bigint>;

  constructor(o: ClusterLabOptions) {
    this.#dpidOf = new Map(o.members.map((m) => [m.vmId, datapathIdFor(o.vni, m.vint0)]));
    let names: string[] = [];
    beforeAll(async () => {
      mkdirSync(this.dir, { recursive: true });
      const booted = await o.boot(this.dir, this.tag);
      names = booted.names;
      this.#controller = await startHarness();
      const res = await this.#controller.api("POST", "/v1/clusters", {
        id: o.clusterId,
        vni: o.vni,
        tunnel: "vxlan",
        members: o.members.map((m, i) => ({ ...m, endpoint: booted.endpoints[i] })),
      });
      if (res.status !== 201) throw new Error(`cluster: ${JSON.stringify(res.body)}`);
      await this.startService();
    }, 600_000);

    afterEach(() => {
      for (const s of this.#switches) s.stop();
      this.#switches = [];
      stopAllOvs();
    });

    afterAll(async () => {
      // Killed, not stopped: a stop waits for a migration a failed case left running. The journal
      // names what the migrations created; the rest carries the boot's names.
      await this.#proc?.kill9();
      const journal = Journal.open(this.db);
      const ids = journal.list().map((m) => `icsdn-${m.id.slice(0, 8)}`);
      journal.close();
      await this.#controller?.close().catch(() => undefined);
      await cleanClouds([...names, ...ids.flatMap((p) => [`${p}-snapshot`, `${p}-image`, `${p}-fip`])]);
      rmSync(this.dir, { recursive: true, force: true });
    }, 600_000);
  }

  get api(): MediationClient {
    if (!this.#api) throw new Error("the mediation service is not running");
    return this.#api;
  }

  get controller(): OfHarness {
    if (!this.#controller) throw new Error("the controller is not started");
    return this.#controller;
  }

  async startService(): Promise<void> {
    this.#proc = await startServiceProcess({
      db: this.db,
      controller: this.controller.controller.url,
      token: TOKEN,
      switchTimeoutS: 20,
      env: labCloudsEnv(),
    });
    this.#api = new MediationClient(this.#proc.url, TOKEN);
  }

  async killService(): Promise<void> {
    await this.#proc?.kill9();
    this.#proc = undefined;
  }

  async stopService(): Promise<void> {
    await this.#proc?.stop();
    this.#proc = undefined;
  }

  /**
   * Plays each new instance's switch (its vm-init would connect icbr0): once a member's migration
   * announces its new endpoint, a real OVS with the member's dpid connects to the controller. The
   * member `skip` never connects.
   */
  playSwitches(clusterMigrationId: string, skip?: string): void {
    const api = this.api;
    const watched = new Set<string>();
    void (async () => {
      for await (const e of api.clusterEvents(clusterMigrationId)) {
        const migrationId = e.data.migrationId;
        const member = String(e.data.member);
        if (e.type !== "member" || typeof migrationId !== "string" || watched.has(migrationId)) continue;
        watched.add(migrationId);
        if (member === skip) continue;
        void (async () => {
          for await (const m of api.events(migrationId)) {
            if (m.type === "announced") {
              this.#switches.push(
                startOvsSwitch({
                  dpid: this.#dpidOf.get(member)!,
                  target: `tcp:127.0.0.1:${this.controller.tcpPort}`,
                }),
              );
              return;
            }
          }
        })().catch(() => undefined);
      }
    })().catch(() => undefined);
  }

  /** The cluster migration once it ended; on timeout an error naming each member's last events. */
  async finished(id: string, timeoutMs = 280_000): Promise<ClusterMigrationView> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const v = await this.api.getCluster(id);
      if (["succeeded", "failed", "cancelled"].includes(v.status)) return v;
      await new Promise((r) => setTimeout(r, 500));
    }
    const v = await this.api.getCluster(id);
    const last: Record<string, string[]> = {};
    for (const m of v.members) {
      if (!m.migrationId) continue;
      const seen: string[] = [];
      for await (const e of this.api.events(m.migrationId, 0, 1000))
        seen.push(`${e.type} ${JSON.stringify(e.data)}`);
      last[m.member] = seen.slice(-6);
    }
    throw new Error(
      `cluster migration ${id} did not end: ${JSON.stringify(v.members)} ${JSON.stringify(last)}`,
    );
  }
}
