/**
 * The paper's experiment (Sec. 6.1-6.3) as the demo: the lab with its two OpenStack clouds, the
 * controller, a cluster of VMs booted through Nova in cloud a with vm-init user-data, known bytes
 * on every VM's disk, the mediation service; one VM moved alone first (Figure 7's baseline),
 * then ONE request that moves the whole cluster to cloud b while every member streams probes to
 * every other. Prints the phases next to Figure 5, linking, update and downtime next to Sec. 6.2,
 * the cluster against one VM (Figure 7), the probes lost, whether every VM's data arrived, and
 * how long it all took. Everything is torn down at the end, also on failure.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ControllerProcess, freePort, removeDb, startControllerProcess } from "../lab/controller-lab.ts";
import { down, up } from "../lab/lab.ts";
import { OpenStackCluster } from "../lab/openstack/cluster.ts";
import { startOpenStack, stopOpenStack } from "../lab/openstack/services.ts";
import { type KeyPair, makeKeyPair } from "../lab/openstack/ssh.ts";
import type { ProbeMesh } from "../lab/probe-mesh-run.ts";
import { MediationClient } from "../mediation/client.ts";
import { ControllerClientPort } from "../mediation/ports/controller-client-port.ts";
import { SshLinkChecker } from "../mediation/ports/ssh-link-check.ts";
import { type RunningMediation, startMediation } from "../mediation/server.ts";
import { type ClusterMove, moveCluster } from "./move-cluster.ts";
import { clusterTable, meshLines, phaseTable, sdnTable } from "./report.ts";

const LAB = "demo";

export interface ExperimentOptions {
  /** Members of the moved cluster (the paper: 4). */
  readonly vms: number;
  /** Probes per second from each member to each other. */
  readonly rate: number;
}

/** Sum and count of a Prometheus histogram in the controller's /metrics. */
async function histogram(ctl: ControllerProcess, name: string): Promise<{ sum: number; count: number }> {
  const token = readFileSync(ctl.tokenFile, "utf8").trim();
  const text = await (
    await fetch(`${ctl.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  const value = (suffix: string) =>
    Number(new RegExp(`^${name}_${suffix}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, "m").exec(text)?.[1] ?? 0);
  return { sum: value("sum"), count: value("count") };
}

async function meanMsSince(
  ctl: ControllerProcess,
  name: string,
  before: { sum: number; count: number },
): Promise<number | null> {
  const now = await histogram(ctl, name);
  const n = now.count - before.count;
  return n > 0 ? ((now.sum - before.sum) / n) * 1000 : null;
}

export async function runPaperExperiment(
  opts: ExperimentOptions,
  out: (line: string) => void = console.log,
): Promise<number> {
  const t0 = Date.now();
  const say = (s: string) => out(s);
  const sub = (s: string) => out(`   ${s}`);
  const tmp = await mkdtemp(join(tmpdir(), "icsdn-demo-"));
  let ctl: ControllerProcess | undefined;
  let cluster: OpenStackCluster | undefined;
  let solo: OpenStackCluster | undefined;
  let service: RunningMediation | undefined;
  let mesh: ProbeMesh | undefined;
  let key: KeyPair | undefined;
  let openstackUp = false;
  try {
    say("== the lab: two clouds (a, b) joined by a 100 Mbit/s WAN, each an OpenStack region");
    await stopOpenStack(sub, { wipe: true }).catch(() => undefined);
    await down(LAB);
    await up(
      LAB,
      {
        clouds: 2,
        vmsPerCloud: 0,
        tunnel: "vxlan",
        wanMbit: 100,
        nics: 1,
        controllers: [],
        vni: 42,
        clusterId: LAB,
      },
      sub,
    );
    openstackUp = true;
    const os = await startOpenStack(LAB, 2, { reset: true }, () => undefined);
    sub(`Keystone, Glance, Placement, Nova, Neutron up in ${os.startS.toFixed(1)} s (${os.cloudsYaml})`);

    const port = await freePort();
    ctl = await startControllerProcess({ openflowPort: port });
    say(`== controller: icsdn controller serve, REST ${ctl.url}, OpenFlow on 0.0.0.0:${port}`);
    const controllerToken = readFileSync(ctl.tokenFile, "utf8").trim();

    say(
      `== ${opts.vms} VMs through Nova in cloud a (vm-init user-data), and one more VM on its own, one after the other`,
    );
    key = await makeKeyPair();
    // Different VNIs: the same vint0 in two clusters is a different dpid.
    const boot = (prefix: string, size: number, vni: number) =>
      OpenStackCluster.boot({
        key: key!,
        vni,
        prefix,
        size,
        cloud: "lab-a",
        labName: LAB,
        controller: ctl!,
        cloudsYaml: os.cloudsYaml,
        log: (l) => sub(`${prefix}: ${l}`),
        // Each first boot on its own: its vm-init's time is the paper's linking time (below).
        oneAtATime: true,
      });
    cluster = await boot("paper", opts.vms, 4242);
    solo = await boot("solo", 1, 4343);
    const members = [
      ...cluster.members.map((m) => [cluster!, m] as const),
      [solo, solo.members[0]!] as const,
    ];
    // The paper's linking time (Sec. 6.2.1: the VM configures vint0, enc0, icbr0, icbond0 and
    // eth0): at a first boot vm-init creates all five, and its answer says when they were configured.
    const firstBootMs: number[] = [];
    for (const [c, m] of members) {
      const configured = c.configuredMs(m.name);
      sub(
        `${m.name}: server ${m.serverId}, floating ${m.fip}, vint0 ${m.vint0}, first boot's interfaces configured in ${configured ?? "-"} ms`,
      );
      if (configured !== null) firstBootMs.push(configured);
    }
    // Linking at a cold boot with the controller reachable: a first boot in the lab has no
    // floating IP yet, so its vm-init never reaches the controller (OpenStackCluster.coldBoot).
    say("== every VM power-cycled through Nova (server reboot --hard), all at once: vm-init's linking time");
    await Promise.all([cluster.coldBoot(), solo.coldBoot()]);
    const linkingMs: number[] = [];
    for (const [c, m] of members) {
      const l = c.linkingMs(m.name);
      sub(`${m.name}: linking ${l === null ? "none (its switch did not reach the controller)" : `${l} ms`}`);
      if (l !== null) linkingMs.push(l);
    }

    say("== data on every VM's disk (4 KiB of random bytes at 512 KiB; their SHA-256 is kept)");
    cluster.writeData();
    solo.writeData();

    const token = "demo-mediation-token-0123456789";
    service = await startMediation({
      dbPath: join(tmp, "mediation.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "token", token },
      controller: new ControllerClientPort({ url: ctl.url, token: controllerToken }),
      linkChecker: new SshLinkChecker({ username: "root", privateKeyFile: cluster.key.privateKey }),
      env: { OS_CLIENT_CONFIG_FILE: os.cloudsYaml },
    });
    const api = new MediationClient(service.url, token);
    say(`== mediation service: ${service.url} (its ssh link check logs in with the VMs' key pair)`);

    say("== one VM alone, cloud a -> b (Figure 7's baseline)");
    const alone = await moveCluster(api, solo, "lab-b");
    const soloView = alone.members[0]!.view;
    sub(
      `${soloView.member}: ${soloView.status} in ${alone.wallS.toFixed(1)} s${soloView.error ? ` ${JSON.stringify(soloView.error)}` : ""}`,
    );

    say(
      `== probe mesh: every member -> every other, ${opts.rate} packets/s each, received on every instance`,
    );
    mesh = await cluster.startProbes({ rate: opts.rate });
    const updateBefore = await histogram(ctl, "icsdn_update_seconds");
    const downtimeBefore = await histogram(ctl, "icsdn_downtime_seconds");
    say(`== ONE request: move cluster '${cluster.id}' (${opts.vms} VMs) to cloud b`);
    const moved: ClusterMove = await moveCluster(api, cluster, "lab-b", {
      mesh,
      // Every member prepares at once, as in the paper's Figure 7 (bench/mediation-cluster.bench.ts).
      maxParallel: opts.vms,
      onEvent: (member, e) => {
        if (e.type === "phase") sub(`${member}: ${String(e.data.step)}`);
        else if (["announced", "rebound", "links_checked", "succeeded", "failed"].includes(e.type))
          sub(`${member}: ${e.type}${e.data.endpoint ? ` ${String(e.data.endpoint)}` : ""}`);
      },
    });
    const report = await mesh.stop();
    mesh = undefined;
    const failed = moved.members.filter((m) => m.view.status !== "succeeded");
    if (moved.cluster.status !== "succeeded")
      sub(
        `cluster migration ${moved.cluster.id}: ${moved.cluster.status} ${JSON.stringify(moved.cluster.error)}`,
      );
    for (const m of failed) sub(`${m.member}: ${m.view.status} ${JSON.stringify(m.view.error)}`);
    const updateMs = await meanMsSince(ctl, "icsdn_update_seconds", updateBefore);
    const controllerDowntimeMs = await meanMsSince(ctl, "icsdn_downtime_seconds", downtimeBefore);

    say("== the data on every moved VM (read by the VM from its own disk, over ssh)");
    let dataOk = 0;
    for (const m of cluster.members) {
      const r = await cluster.checkData(m.name);
      if (r.ok) dataOk++;
      sub(
        `${m.name} in ${m.cloud} (${m.fip}): ${r.ok ? "the same bytes" : `DIFFERENT (sha256 ${r.sha256})`}`,
      );
    }
    const soloData = await solo.checkData(solo.members[0]!.name);
    sub(`${solo.members[0]!.name} (alone): ${soloData.ok ? "the same bytes" : "DIFFERENT"}`);

    say("");
    say("Figure 5: each phase of a migration (s)");
    for (const l of phaseTable(
      moved.members.map((m) => m.view.timings),
      alone.members[0]!.view.timings,
      { clusterS: moved.wallS, soloS: alone.wallS },
    ))
      say(l);
    say("(our image download and upload are one stream: both phases span it; the lab image is 1 MiB,");
    say(
      " the paper's 800 MB, so our transfer phases are short and instantiation and network setup dominate)",
    );
    say("");
    for (const l of sdnTable({
      firstBootMs,
      linkingMs,
      updateMs,
      controllerDowntimeMs,
      mesh: report,
      rebinds: moved.members.length,
      commitMs: moved.cluster.commitMs ?? null,
    }))
      say(l);
    say("");
    for (const l of clusterTable({ size: opts.vms, clusterS: moved.wallS, soloS: alone.wallS })) say(l);
    say("");
    say("probe streams between the members (a member's packets count from its old VM until its new");
    say("endpoint is announced and from its new VM once rebound; any instance of the receiver counts):");
    for (const l of meshLines(report)) say(l);
    say(
      `data arrived on ${dataOk} of ${cluster.members.length} moved VMs${soloData.ok ? " (and on the VM moved alone)" : ""}`,
    );
    const ok =
      moved.cluster.status === "succeeded" &&
      failed.length === 0 &&
      dataOk === cluster.members.length &&
      soloData.ok &&
      report.lost === 0;
    say(ok ? "== the cluster moved: nothing lost" : "== the demo found a problem (above)");
    return ok ? 0 : 1;
  } finally {
    await mesh?.stop().catch(() => undefined);
    await service?.close().catch((e: unknown) => say(`mediation close: ${String(e)}`));
    for (const c of [cluster, solo]) await c?.destroy().catch((e: unknown) => say(String(e)));
    if (openstackUp)
      await stopOpenStack(() => undefined, { wipe: true }).catch((e: unknown) => say(String(e)));
    await down(LAB).catch((e: unknown) => say(`lab down failed: ${String(e)}`));
    if (ctl) {
      await ctl.stop();
      removeDb(ctl.dbPath);
    }
    key?.remove();
    await rm(tmp, { recursive: true, force: true });
    say(
      `== lab, clouds, controller and service down (the demo took ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
}
