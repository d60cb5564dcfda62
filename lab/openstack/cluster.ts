/**
 * An "OpenStack cluster" for tests, the demo and benches: N servers booted through Nova in one
 * lab cloud with vm-init user-data (their switches dial the controller), a key pair and a
 * security group of their own (VXLAN, ssh, ICMP from anywhere: what a migration copies to the
 * target), floating IPs as endpoints, the cluster created in the controller and checked (every
 * switch connected with its rules, every pair's vint0 pings). Then: known bytes on each VM's
 * disk and their check on a moved VM (read by the VM itself over ssh), and a probe mesh between
 * all members. `destroy` removes everything under the cluster's name prefix in both clouds
 * (servers, their floating IPs, the group, the key pair), whoever created it (a migration too),
 * also after a failed boot.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ControllerClient } from "../../contract/controller-api/index.ts";
import type { VmInitConfigInput } from "../../vm-init/config.ts";
import { userData } from "../../vm-init/user-data.ts";
import { parseConfig } from "../../vm-init/validate.ts";
import { pingCount, waitSwitchesConverged } from "../controller-lab.ts";
import type { Logger } from "../log.ts";
import { HOST_ADDRESS, names } from "../plan.ts";
import { ProbeMesh } from "../probe-mesh-run.ts";
import { type RunResult, run, sleep } from "../sh.ts";
import { serverDisk, writeDisk } from "./disk.ts";
import { cloudsYamlPath } from "./services.ts";
import { type KeyPair, makeKeyPair, ssh } from "./ssh.ts";

/** Where the known bytes go on each disk (inside the lab image's 1 MiB). */
const DATA_OFFSET = 512 * 1024;
const DATA_BYTES = 4096;
const ENTRIES = ["lab-a", "lab-b"] as const;
/** The group's ingress rules: VXLAN between members, ssh (the link check), ping. */
const RULES = [
  ["udp", "4789"],
  ["tcp", "22"],
  ["icmp", null],
] as const;
export type CloudEntry = (typeof ENTRIES)[number];

export interface ClusterMember {
  /** The controller's vmId and the server's name. */
  readonly name: string;
  readonly vint0: string;
  /** The member's vm-init config (the user-data it booted with; a migration gives the target the same). */
  readonly vmInit: VmInitConfigInput;
  /** Where it runs now (updated by `moved`). */
  cloud: CloudEntry;
  serverId: string;
  fip: string;
  netns: string;
}

export interface DataMark {
  readonly offset: number;
  readonly length: number;
  readonly sha256: string;
}

export interface ClusterOptions {
  /** Names: servers `<prefix>-vm<i>`, group and key pair `<prefix>`; also the cluster's id. */
  readonly prefix: string;
  readonly size: number;
  readonly cloud: CloudEntry;
  readonly labName: string;
  readonly controller: { readonly client: ControllerClient; readonly openflowPort: number };
  readonly vni?: number;
  readonly flavor?: string;
  readonly image?: string;
  readonly cloudsYaml?: string;
  /** The key pair to use (kept by `destroy`); default: a new one, removed by `destroy`. */
  readonly key?: KeyPair;
  readonly log?: Logger;
  /**
   * Boot the servers one after the other (default: all at once). A cloud's VMs boot on CPUs of
   * their own; here they share this machine's two cores with each other and nova-compute, and a
   * VM's first boot (vm-init's figures) would wait for the others' (as the namespace lab's do).
   */
  readonly oneAtATime?: boolean;
}

/** `openstack ARGS` as a clouds.yaml entry. */
export type OpenStackCli = (
  entry: CloudEntry,
  args: readonly string[],
  opts?: { check?: boolean; timeoutMs?: number },
) => Promise<RunResult>;

/**
 * The lab's services keep their state in SQLite: under load a write now and then fails with a 500
 * ("database is locked", rolled back). Such an answer is tried again, twice at most.
 */
export function openstackCli(cloudsYaml: string = cloudsYamlPath()): OpenStackCli {
  return async (entry, args, opts = {}) => {
    for (let attempt = 1; ; attempt++) {
      const res = await run("openstack", args, {
        env: { OS_CLIENT_CONFIG_FILE: cloudsYaml, OS_CLOUD: entry },
        timeoutMs: opts.timeoutMs ?? 120_000,
        check: false,
      });
      const locked = res.code !== 0 && /HttpException: 500|database is locked/.test(res.stderr);
      if (locked && attempt < 3) {
        await sleep(1000 * attempt);
        continue;
      }
      if (res.code !== 0 && (opts.check ?? true))
        throw new Error(`openstack ${args.join(" ")} (as ${entry}): exit ${res.code}\n${res.stderr.trim()}`);
      return res;
    }
  };
}

export class OpenStackCluster {
  readonly id: string;
  readonly vni: number;
  readonly members: ClusterMember[];
  readonly key: KeyPair;
  /** The security group and key pair name (a migration imports both into the target by this name). */
  readonly groupName: string;
  readonly #o: ClusterOptions;
  readonly #cli: OpenStackCli;
  readonly #tmp: string;
  readonly #marks = new Map<string, DataMark>();

  private constructor(o: ClusterOptions, key: KeyPair, members: ClusterMember[], tmp: string) {
    this.#o = o;
    this.id = o.prefix;
    this.vni = o.vni ?? 4242;
    this.groupName = o.prefix;
    this.key = key;
    this.members = members;
    this.#cli = openstackCli(o.cloudsYaml);
    this.#tmp = tmp;
  }

  /** Boots the cluster and checks it is linked; on any failure removes what it made and throws. */
  static async boot(o: ClusterOptions): Promise<OpenStackCluster> {
    if (!/^[a-z][a-z0-9-]{0,15}$/.test(o.prefix)) throw new Error(`bad cluster prefix '${o.prefix}'`);
    if (!Number.isInteger(o.size) || o.size < 1 || o.size > 50) throw new Error("cluster size must be 1..50");
    const tmp = mkdtempSync(join(tmpdir(), "icsdn-os-cluster-"));
    const key = o.key ?? (await makeKeyPair());
    const vni = o.vni ?? 4242;
    const members: ClusterMember[] = Array.from({ length: o.size }, (_, i) => {
      const vint0 = `198.18.0.${11 + i}`;
      return {
        name: `${o.prefix}-vm${i + 1}`,
        vint0,
        vmInit: {
          clusterId: o.prefix,
          vni,
          tunnel: "vxlan",
          datapath: "netdev",
          // No MAC: vm-init gives vint0 the contract's (vint0MacFor), as on a user's VM.
          vint0: { address: `${vint0}/24` },
          underlay: { nics: ["eth0"], address: "takeover", mtu: 1500 },
          controller: { targets: [`tcp:${HOST_ADDRESS}:${o.controller.openflowPort}`] },
          // Offload kept (vm-init's default): the lab driver turns tx checksums off on both ends
          // of the VM's veth, its "hardware", as the namespace lab does; vint0 and icbond0 are
          // taps OVS opens without a vnet header, so the kernel finishes their checksums. Turning
          // it off here was two ethtool processes in every boot's network step.
        },
        cloud: o.cloud,
        serverId: "",
        fip: "",
        netns: "",
      };
    });
    const c = new OpenStackCluster(o, key, members, tmp);
    try {
      await c.#boot();
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  #say(line: string): void {
    this.#o.log?.(line);
  }

  async #boot(): Promise<void> {
    const { cloud, prefix } = this.#o;
    const t0 = Date.now();
    await Promise.all([
      this.#cli(cloud, ["keypair", "create", "--public-key", `${this.key.privateKey}.pub`, prefix]),
      this.#cli(cloud, ["security", "group", "create", "--description", "icsdn cluster", prefix]),
    ]);
    // One at a time: the lab's Neutron (SQLite) is slow to take concurrent writes.
    for (const [proto, port] of RULES) {
      const args = ["security", "group", "rule", "create", "--protocol", proto, "--remote-ip", "0.0.0.0/0"];
      await this.#cli(cloud, [...args, ...(port ? ["--dst-port", port] : []), prefix]);
    }
    this.#say(`key pair and security group '${prefix}' (udp 4789, tcp 22, icmp) in ${cloud}`);
    if (this.#o.oneAtATime) for (const m of this.members) await this.#bootMember(m);
    else await Promise.all(this.members.map((m) => this.#bootMember(m)));
    this.#say(
      `${this.members.length} servers ACTIVE with floating IPs in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await this.#o.controller.client.createCluster({
      id: this.id,
      vni: this.vni,
      tunnel: "vxlan",
      members: this.members.map((m) => ({ vmId: m.name, vint0: m.vint0, endpoint: m.fip })),
    });
    await waitSwitchesConverged(
      this.#o.controller.client,
      this.id,
      this.members.map((m) => m.name),
      60_000,
    );
    this.#say("cluster created in the controller: every switch connected and holding its rules");
    await this.checkLinks();
  }

  async #bootMember(m: ClusterMember): Promise<void> {
    const { cloud, prefix } = this.#o;
    const ud = join(this.#tmp, `${m.name}.user-data`);
    writeFileSync(ud, userData(parseConfig(m.vmInit)));
    const create = [
      "server",
      "create",
      "--flavor",
      this.#o.flavor ?? "m1.tiny",
      "--image",
      this.#o.image ?? "lab-disk",
      "--network",
      "private",
      "--security-group",
      prefix,
      "--key-name",
      prefix,
      "--user-data",
      ud,
      "--wait",
      "-f",
      "json",
      m.name,
    ];
    // The lab's Nova (SQLite) now and then fails a build under load ("database is locked"): one more try.
    for (let attempt = 1; ; attempt++) {
      const res = await this.#cli(cloud, create, { check: attempt > 1, timeoutMs: 300_000 });
      // A build that ends in ERROR: `--wait` prints "Error creating server: ..." instead of the
      // JSON, and exits 0 (seen in a bench run): a failed try like the others.
      const json = res.code === 0 && res.stdout.trimStart().startsWith("{");
      const s = json ? (JSON.parse(res.stdout) as { id: string; status: string }) : undefined;
      if (s?.status === "ACTIVE") {
        m.serverId = s.id;
        break;
      }
      if (attempt > 1) throw new Error(`server ${m.name} did not boot: ${res.stdout || res.stderr}`);
      await this.#deleteServers(cloud, [m.name]);
    }
    m.netns = names(this.#o.labName).server(m.serverId);
    const fip = await this.#cli(cloud, [
      "floating",
      "ip",
      "create",
      "--description",
      prefix,
      "-f",
      "value",
      "-c",
      "floating_ip_address",
      "public",
    ]);
    m.fip = fip.stdout.trim();
    await this.#cli(cloud, ["server", "add", "floating", "ip", m.serverId, m.fip]);
  }

  /**
   * Power-cycles every member through Nova (`server reboot --hard`), all at once, and checks that
   * the cluster is linked again. A lab VM's first boot cannot reach the controller: its floating
   * IP is added once the server is ACTIVE, and the lab's router NATs only floating IPs (there is
   * no default SNAT), so vm-init gives up waiting and measures no linking time. At this boot, with
   * the floating IP in place, it does (`linkingMs`): a fresh ovs-vswitchd, a cold CLI process, the
   * members booting together.
   */
  async coldBoot(): Promise<void> {
    const t0 = Date.now();
    await Promise.all(
      this.members.map((m) =>
        this.#cli(m.cloud, ["server", "reboot", "--hard", "--wait", m.serverId], { timeoutMs: 180_000 }),
      ),
    );
    await waitSwitchesConverged(
      this.#o.controller.client,
      this.id,
      this.members.map((m) => m.name),
      60_000,
    );
    this.#say(
      `${this.members.length} servers power-cycled, switches back with their rules in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    await this.checkLinks();
  }

  /** Every member's vint0 reaches every other's (from the VM's namespace, through the tunnels). */
  async checkLinks(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const a of this.members) {
      for (const b of this.members) {
        if (a === b) continue;
        while ((await pingCount(a.netns, b.vint0, 2)) === 0) {
          if (Date.now() > deadline) throw new Error(`${a.name} does not reach ${b.name}'s vint0 ${b.vint0}`);
          await sleep(500);
        }
      }
    }
    this.#say(`every pair's vint0 pings (${this.members.length * (this.members.length - 1)} pairs)`);
  }

  /** Random bytes on every member's disk file (the VM's block device); remembered for `checkData`. */
  writeData(): DataMark[] {
    return this.members.map((m) => {
      const bytes = randomBytes(DATA_BYTES);
      writeDisk(m.serverId, DATA_OFFSET, bytes);
      const mark = {
        offset: DATA_OFFSET,
        length: DATA_BYTES,
        sha256: createHash("sha256").update(bytes).digest("hex"),
      };
      this.#marks.set(m.name, mark);
      return mark;
    });
  }

  /** Whether the member's VM (where it runs now) reads the bytes `writeData` put on its disk: asked over ssh. */
  async checkData(member: string): Promise<{ ok: boolean; sha256: string }> {
    const m = this.member(member);
    const mark = this.#marks.get(member);
    if (!mark) throw new Error(`no data written on ${member}`);
    const cmd = `dd if="$LAB_DISK" bs=${mark.length} skip=${mark.offset / mark.length} count=1 2>/dev/null | sha256sum`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await ssh(m.fip, this.key.privateKey, cmd);
      if (r.code === 0) {
        const sha256 = r.stdout.split(" ")[0] ?? "";
        return { ok: sha256 === mark.sha256, sha256 };
      }
      if (Date.now() > deadline) throw new Error(`ssh to ${member} at ${m.fip}: ${r.stderr}`);
      await sleep(1000);
    }
  }

  /**
   * vm-init's linking time on the member's current VM (ms), from its apply's answer at its last
   * boot; null: none (its switch did not reach the controller then: a first boot, see coldBoot).
   */
  linkingMs(member: string): number | null {
    return this.#applyAnswer(member, "linkingMs");
  }

  /**
   * vm-init's configured time on the member's current VM (ms), from its apply's answer at its
   * last boot: from the start of its network step until vint0, enc0, icbr0, icbond0 and eth0 were
   * configured, the controller connection not awaited (the paper's linking time, Sec. 6.2.1). At
   * a first boot vm-init creates all five; null: no answer.
   */
  configuredMs(member: string): number | null {
    return this.#applyAnswer(member, "configuredMs");
  }

  #applyAnswer(member: string, field: "linkingMs" | "configuredMs"): number | null {
    const file = join(dirname(serverDisk(this.member(member).serverId)), "vm-init.json");
    if (!existsSync(file)) return null;
    const m = new RegExp(`"${field}":\\s*([\\d.]+)`).exec(readFileSync(file, "utf8"));
    return m ? Number(m[1]) : null;
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name} in cluster ${this.id}`);
    return m;
  }

  /** The member now runs as server `serverId` in `cloud` at `fip` (after a migration). */
  moved(name: string, cloud: CloudEntry, serverId: string, fip: string): void {
    const m = this.member(name);
    m.cloud = cloud;
    m.serverId = serverId;
    m.fip = fip;
    m.netns = names(this.#o.labName).server(serverId);
  }

  /** A server's lab VM namespace. */
  netnsOf(serverId: string): string {
    return names(this.#o.labName).server(serverId);
  }

  /** A probe mesh between all members' current instances. */
  startProbes(opts: { rate?: number } = {}): Promise<ProbeMesh> {
    return ProbeMesh.start(
      this.members.map((m) => ({ name: m.name, vint0: m.vint0, netns: m.netns })),
      opts,
    );
  }

  /** Everything under the prefix, in both clouds: servers and their floating IPs, the group, the key pair. */
  async destroy(): Promise<void> {
    const { prefix } = this.#o;
    const errors: string[] = [];
    for (const cloud of ENTRIES) {
      try {
        const servers = JSON.parse(
          (await this.#cli(cloud, ["server", "list", "--name", `^${prefix}-vm`, "-f", "json"])).stdout,
        ) as { ID: string; Name: string; Networks: Record<string, string[]> | string }[];
        const addresses = new Set(
          servers.flatMap((s) => JSON.stringify(s.Networks).match(/[\d.]{7,15}/g) ?? []),
        );
        const fips = JSON.parse(
          (await this.#cli(cloud, ["floating", "ip", "list", "--long", "-f", "json"])).stdout,
        ) as { ID: string; "Floating IP Address": string; Description: string }[];
        const ours = fips.filter((f) => addresses.has(f["Floating IP Address"]) || f.Description === prefix);
        if (ours.length > 0) await this.#cli(cloud, ["floating", "ip", "delete", ...ours.map((f) => f.ID)]);
        await this.#deleteServers(
          cloud,
          servers.map((s) => s.ID),
        );
        await this.#cli(cloud, ["security", "group", "delete", prefix], { check: false });
        await this.#cli(cloud, ["keypair", "delete", prefix], { check: false });
      } catch (err) {
        errors.push(`${cloud}: ${(err as Error).message}`);
      }
    }
    if (!this.#o.key) this.key.remove();
    rmSync(this.#tmp, { recursive: true, force: true });
    if (errors.length > 0) throw new Error(`cluster ${prefix} not fully removed: ${errors.join("; ")}`);
  }

  async #deleteServers(cloud: CloudEntry, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#cli(cloud, ["server", "delete", "--wait", ...ids], { check: false, timeoutMs: 180_000 });
  }
}
