import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// The streamed transfer's own CPU and peak RSS, without the OpenStack lab: one image moved between
// two clouds of a Glance-like server (test/mediation/support/glance-server.ts, hashing uploads in
// sha512 as Glance does) running in a process of its own, each transfer in a fresh process started
// as the service is (--max-semi-space-size=1). Rounds interleave the repository roots given, e.g.
// this worktree against the main tree:
//   node bench/local-transfer.ts [--mib 1024] [--rounds 3] /work/main .
// One JSON line per transfer: wall and CPU seconds (sys part), CPU per thread since the process
// started (main includes module loading; the hash worker has exited and counts only in cpu_s),
// peak RSS and RSS before the transfer.
const here = fileURLToPath(import.meta.url);
const node = [process.execPath, "--disable-warning=ExperimentalWarning"];
const [mode, ...args] = process.argv.slice(2);

if (mode === "serve") {
  const { GlanceServer } = await import("../test/mediation/support/glance-server.ts");
  const server = new GlanceServer();
  await server.start();
  const id = server.addImage("source", randomBytes(Number(args[0]) * 2 ** 20));
  process.stdout.write(`${JSON.stringify({ url: server.url, id })}\n`);
} else if (mode === "measure") {
  await measure(args[0]!, args[1]!, args[2]!);
} else {
  const flag = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at < 0 ? fallback : Number(process.argv.splice(at, 2)[1]);
  };
  const mib = flag("--mib", 1024);
  const rounds = flag("--rounds", 3);
  const roots = process.argv
    .slice(2)
    .map((r) => new URL(r, `file://${process.cwd()}/`).pathname.replace(/\/$/, ""));
  const server = spawn(node[0]!, [...node.slice(1), here, "serve", String(mib)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const first = await createInterface({ input: server.stdout! })[Symbol.asyncIterator]().next();
    const { url, id } = JSON.parse(String(first.value)) as { url: string; id: string };
    for (let r = 0; r < rounds; r++) {
      for (const root of roots) {
        const child = spawn(
          node[0]!,
          [...node.slice(1), "--max-semi-space-size=1", here, "measure", root, url, id],
          {
            stdio: "inherit",
          },
        );
        await new Promise((resolve) => child.on("exit", resolve));
      }
    }
  } finally {
    server.kill();
  }
}

async function measure(root: string, url: string, id: string): Promise<void> {
  const { OpenStackDriver } = await import(`${root}/mediation/clouds/openstack/openstack-driver.ts`);
  const { streamTransfer } = await import(`${root}/mediation/transfer/stream-transfer.ts`);
  const { passwordCloud } = await import("../test/mediation/support/glance-server.ts");
  const a = new OpenStackDriver(passwordCloud("a", url));
  const b = new OpenStackDriver(passwordCloud("b", url));
  const image = await a.getImage(id);
  const target: string = await b.createImage({
    name: "copy",
    diskFormat: "raw",
    containerFormat: "bare",
    properties: {},
  });
  const before = hwmMb();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await streamTransfer({
    source: a,
    sourceImage: image,
    target: b,
    chunkSize: 8 << 20,
    newTargetImage: async () => target,
    discardTargetImage: async () => undefined,
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await b.deleteImage(target);
  const threads: Record<string, number> = {};
  for (const task of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8");
    const name = task === String(process.pid) ? "main" : /\((.*)\)/.exec(stat)![1]!;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    threads[name] = round((threads[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
  }
  const line = {
    root,
    wall_s: round(wall),
    cpu_s: round((cpu.user + cpu.system) / 1e6),
    sys_s: round(cpu.system / 1e6),
    threads,
    peak_rss_mb: Math.round(hwmMb()),
    rss_before_mb: Math.round(before),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(0);
}

function hwmMb(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
