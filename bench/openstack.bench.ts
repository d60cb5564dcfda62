/**
 * The lab's OpenStack clouds (run under flock /tmp/icsdn-lab.lock and /tmp/icsdn-openstack.lock):
 * - start_s: lab up done, services started from the golden copy until every API and RPC consumer answers;
 * - boot_s: POST /servers to ACTIVE for a server with vm-init user-data (vm-init applied), and
 *   Nova's share of it (the rest is the lab driver's spawn: image download, VM boot, cloud-init);
 * - Glance upload and download of a 200 MB incompressible image (REST, streamed), and createImage
 *   of a server booted from it (MB/s of the snapshot, request to image active);
 * - resident memory of the services (every process of their process groups);
 * - install_s: the apt install's duration, from /tmp/apt-install*.log (creation to last write),
 *   when those logs are there.
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { down, up } from "../lab/lab.ts";
import { makeImageFile } from "../lab/openstack/disk.ts";
import { KEYSTONE_URL, type OpenStackCloudPlan } from "../lab/openstack/plan.ts";
import {
  openstackPasswords,
  openstackRoot,
  startOpenStack,
  stopOpenStack,
} from "../lab/openstack/services.ts";
import { ICSDN_BIN } from "../lab/paths.ts";
import { run, sleep } from "../lab/sh.ts";
import {
  OPENSTACK_TEST_LAB as LAB,
  OPENSTACK_LAB_OPTIONS,
  openstackMissing,
} from "../test/support/openstack-lab.ts";
import { type Bench, type Figure, median } from "./figures.ts";

const BOOTS = 3;
const IMAGE_MB = 200;
const log = (line: string) => process.stderr.write(`[openstack-bench] ${line}\n`);

async function token(user: string, password: string, project: string): Promise<string> {
  const res = await fetch(`${KEYSTONE_URL}/auth/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: user, domain: { id: "default" }, password } },
        },
        scope: { project: { name: project, domain: { id: "default" } } },
      },
    }),
  });
  const t = res.headers.get("x-subject-token");
  if (!res.ok || !t) throw new Error(`keystone: ${res.status}`);
  return t;
}

async function call<T>(tok: string, method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      "x-auth-token": tok,
      "content-type": "application/json",
      "openstack-api-version": "compute 2.79",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

async function until<T>(what: string, probe: () => Promise<T | null>, ms = 300_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Seconds the lab driver spent in spawn, from its console lines' monotonic stamps. */
function spawnSeconds(cloud: string, id: string): number {
  const lines = readFileSync(
    join(openstackRoot(), "data", cloud, "nova", "instances", id, "console.log"),
    "utf8",
  ).split("\n");
  const stamp = (re: RegExp) => Number(/^\[\s*([\d.]+)\]/.exec(lines.find((l) => re.test(l)) ?? "")?.[1]);
  return stamp(/ up$/) - stamp(/fetching image/);
}

/** RSS (MiB) of the services' process groups: keystone, rabbitmq, epmd ("shared") and each cloud's. */
function servicesRssMb(): Record<string, number> {
  const runDir = join(openstackRoot(), "run");
  const groupOf = new Map<number, string>();
  for (const f of readdirSync(runDir).filter((x) => x.endsWith(".pid"))) {
    const pid = Number(readFileSync(join(runDir, f), "utf8"));
    const owner = /^([ab])-/.exec(f)?.[1] ?? "shared";
    try {
      groupOf.set(Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[2]), owner);
    } catch {
      // gone
    }
  }
  const mb: Record<string, number> = {};
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const pgid = Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[2]);
      const owner = groupOf.get(pgid);
      if (owner === undefined) continue;
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
      mb[owner] = (mb[owner] ?? 0) + kb / 1024;
    } catch {
      // gone
    }
  }
  return mb;
}

function installSeconds(): number | null {
  const logs = ["/tmp/apt-install.log", "/tmp/apt-install2.log"].filter(existsSync);
  if (logs.length === 0) return null;
  return logs.reduce((s, f) => {
    const st = statSync(f);
    return s + (st.mtimeMs - st.birthtimeMs) / 1000;
  }, 0);
}

const bench: Bench = {
  title: "openstack: the lab's clouds (start from golden, boot, Glance, snapshot, memory)",
  async run(): Promise<Figure[]> {
    const missing = openstackMissing();
    if (missing.length > 0) {
      log(`skipped: missing ${missing.join(", ")}`);
      return [];
    }
    const tmp = mkdtempSync(join(tmpdir(), "icsdn-os-bench-"));
    try {
      await stopOpenStack(log);
      await down(LAB, log);
      await up(LAB, OPENSTACK_LAB_OPTIONS, log);
      const os = await startOpenStack(LAB, 2, { reset: true }, () => {});
      const a = os.clouds[0] as OpenStackCloudPlan;
      const pw = openstackPasswords();
      const tok = await token("user-a", pw.USER_A_PASSWORD!, "project-a");
      const nova = `http://127.0.0.1:${a.ports.nova}/v2.1`;
      const glance = `http://127.0.0.1:${a.ports.glance}/v2`;
      const net = (
        await call<{ networks: { id: string }[] }>(
          tok,
          "GET",
          `http://127.0.0.1:${a.ports.neutron}/v2.0/networks?name=private`,
        )
      ).networks[0]!.id;
      const flavor = (
        await call<{ flavors: { id: string; name: string }[] }>(tok, "GET", `${nova}/flavors`)
      ).flavors.find((f) => f.name === "m1.tiny")!.id;
      const labDisk = (await call<{ images: { id: string }[] }>(tok, "GET", `${glance}/images?name=lab-disk`))
        .images[0]!.id;

      const cfg = join(tmp, "vm.json");
      writeFileSync(
        cfg,
        JSON.stringify({
          clusterId: "bench",
          vni: 7,
          tunnel: "vxlan",
          datapath: "netdev",
          vint0: { address: "198.18.0.50/24" },
          underlay: { nics: ["eth0"], address: "takeover", mtu: 1500 },
          offload: { txChecksum: "off" },
        }),
      );
      const userData = Buffer.from(
        (await run(ICSDN_BIN, ["vm-init", "user-data", "--config", cfg])).stdout,
      ).toString("base64");
      const boot = async (name: string, image: string): Promise<{ id: string; s: number }> => {
        const t0 = Date.now();
        const { server } = await call<{ server: { id: string } }>(tok, "POST", `${nova}/servers`, {
          server: {
            name,
            imageRef: image,
            flavorRef: flavor,
            networks: [{ uuid: net }],
            user_data: userData,
          },
        });
        await until(`${name} ACTIVE`, async () => {
          const s = (await call<{ server: { status: string } }>(tok, "GET", `${nova}/servers/${server.id}`))
            .server;
          if (s.status === "ERROR") throw new Error(`${name} went to ERROR`);
          return s.status === "ACTIVE" ? true : null;
        });
        return { id: server.id, s: (Date.now() - t0) / 1000 };
      };
      const boots: number[] = [];
      const novaShare: number[] = [];
      for (let i = 0; i < BOOTS; i++) {
        const b = await boot(`bench-${i}`, labDisk);
        boots.push(b.s);
        novaShare.push(b.s - spawnSeconds("a", b.id));
        await call(tok, "DELETE", `${nova}/servers/${b.id}`);
      }

      // Glance: a 200 MB incompressible image up (streamed PUT) and down (streamed GET)
      const file = join(tmp, "img.raw");
      makeImageFile(file, IMAGE_MB * 1e6, "random");
      const img = await call<{ id: string }>(tok, "POST", `${glance}/images`, {
        name: "bench-200mb",
        disk_format: "raw",
        container_format: "bare",
      });
      let t0 = Date.now();
      const put = await fetch(`${glance}/images/${img.id}/file`, {
        method: "PUT",
        headers: { "x-auth-token": tok, "content-type": "application/octet-stream" },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: "half",
      } as RequestInit);
      if (!put.ok) throw new Error(`glance upload: ${put.status}`);
      const uploadS = (Date.now() - t0) / 1000;
      t0 = Date.now();
      const get = await fetch(`${glance}/images/${img.id}/file`, { headers: { "x-auth-token": tok } });
      await pipeline(
        Readable.fromWeb(get.body as import("node:stream/web").ReadableStream),
        createWriteStream(join(tmp, "down.raw")),
      );
      const downloadS = (Date.now() - t0) / 1000;

      // createImage of a server booted from it: the 200 MB disk file goes to Glance
      const big = await boot("bench-big", img.id);
      t0 = Date.now();
      const snapRes = await fetch(`${nova}/servers/${big.id}/action`, {
        method: "POST",
        headers: {
          "x-auth-token": tok,
          "content-type": "application/json",
          "openstack-api-version": "compute 2.79",
        },
        body: JSON.stringify({ createImage: { name: "bench-snap" } }),
      });
      const snapId = ((await snapRes.json()) as { image_id: string }).image_id;
      await until("snapshot active", async () => {
        const s = await call<{ status: string }>(tok, "GET", `${glance}/images/${snapId}`);
        return s.status === "active" ? true : null;
      });
      const snapS = (Date.now() - t0) / 1000;
      const rss = servicesRssMb();
      const install = installSeconds();
      return [
        {
          name: "openstack.start_s",
          value: os.startS,
          unit: "s (golden copy to every API and RPC consumer ready, 2 clouds)",
        },
        {
          name: "openstack.boot_s.median",
          value: median(boots),
          unit: "s (POST /servers to ACTIVE, vm-init applied)",
        },
        {
          name: "openstack.boot_s.nova_share.median",
          value: median(novaShare),
          unit: "s (of boot_s, outside the lab driver's spawn)",
        },
        {
          name: "openstack.glance.upload_mb_per_s",
          value: IMAGE_MB / uploadS,
          unit: "MB/s (200 MB, streamed PUT)",
        },
        {
          name: "openstack.glance.download_mb_per_s",
          value: IMAGE_MB / downloadS,
          unit: "MB/s (200 MB, streamed GET)",
        },
        {
          name: "openstack.snapshot_mb_per_s",
          value: IMAGE_MB / snapS,
          unit: "MB/s (createImage of a 200 MB disk, request to active)",
        },
        {
          name: "openstack.rss_mb.total",
          value: Object.values(rss).reduce((x, y) => x + y, 0),
          unit: "MiB RSS (every service, 2 clouds)",
        },
        {
          name: "openstack.rss_mb.shared",
          value: rss.shared ?? 0,
          unit: "MiB RSS (Keystone, RabbitMQ, epmd)",
        },
        {
          name: "openstack.rss_mb.cloud_b",
          value: rss.b ?? 0,
          unit: "MiB RSS (a region's own services: the second cloud's cost)",
        },
        ...(install === null
          ? []
          : [
              {
                name: "openstack.install_s",
                value: install,
                unit: "s (apt install, from /tmp/apt-install*.log)",
              },
            ]),
      ];
    } finally {
      await stopOpenStack(log, { wipe: true }).catch(() => {});
      await down(LAB, log).catch(() => {});
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
export default bench;
