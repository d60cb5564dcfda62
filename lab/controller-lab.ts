/**
 * The controller against the lab: what the e2e test, the demo and the bench share. Starts
 * `icsdn controller serve` as a child process (OpenFlow on 0.0.0.0, so the lab's VMs reach it at
 * 203.0.113.225), speaks its REST API, and runs lab/probe.ts streams between vint0s inside the
 * lab VMs' namespaces, bounded in count and time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ControllerClient,
  ControllerClientError,
  type SwitchEntry,
} from "../contract/controller-api/index.ts";
import { ICSDN_BIN, REPO_ROOT, type StatusView, status, type VmView } from "./lab.ts";
import { HOST_ADDRESS } from "./plan.ts";
import {
  type Arrival,
  DEFAULT_PROBE_STREAM_PORT,
  type SendReport,
  type StreamSummary,
  summarize,
} from "./probe.ts";
import { runIn } from "./sh.ts";

const PROBE = join(REPO_ROOT, "lab", "probe.ts");

// --- the controller process ---------------------------------------------------------------------

export interface ControllerProcess {
  /** The REST API from this machine (127.0.0.1). */
  readonly url: string;
  /** Its client, with the token. */
  readonly client: ControllerClient;
  /** The REST API's port; it listens on every address, so lab VMs reach it at 203.0.113.225. */
  readonly apiPort: number;
  /** The bearer token's file (0600, in the controller's temp folder). */
  readonly tokenFile: string;
  readonly openflowPort: number;
  readonly dbPath: string;
  readonly pid: number;
  /** stdout and stderr so far (for a failure's message). */
  output(): string;
  /** SIGKILL, no goodbye to the switches. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts `icsdn controller serve` and waits until it listens (at most 20 s). Its REST API requires
 * a fresh random token (in a 0600 file next to the database) and listens on every address, so lab
 * VMs can send vm-init's linking reports; `client` sends the token for calls from this process.
 */
export async function startControllerProcess(opts: {
  openflowPort: number;
  dbPath?: string;
  apiPort?: number;
  logLevel?: string;
}): Promise<ControllerProcess> {
  const dbPath = opts.dbPath ?? join(mkdtempSync(join(tmpdir(), "icsdn-ctl-")), "controller.db");
  const tokenFile = join(dbPath, "..", "api-token");
  const token = randomBytes(24).toString("hex");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const child = spawn(
    ICSDN_BIN,
    [
      "controller",
      "serve",
      "--db",
      dbPath,
      "--listen",
      `0.0.0.0:${opts.apiPort ?? 0}`,
      "--openflow",
      `0.0.0.0:${opts.openflowPort}`,
      "--token-file",
      tokenFile,
      "--log-level",
      opts.logLevel ?? "warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-64_000);
  });
  child.stderr?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-64_000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const deadline = Date.now() + 20_000;
  let url: string | undefined;
  while (Date.now() < deadline) {
    const m = /listening on http:\/\/[0-9.]+:(\d+)/.exec(out);
    if (m?.[1]) {
      url = `http://127.0.0.1:${m[1]}`;
      break;
    }
    if (child.exitCode !== null) break;
    await sleep(25);
  }
  const stopWith = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(t);
  };
  if (!url || child.pid === undefined) {
    await stopWith("SIGKILL", 0);
    throw new Error(`controller did not start:\n${out}`);
  }
  return {
    url,
    client: new ControllerClient({ url, token }),
    apiPort: Number(new URL(url).port),
    tokenFile,
    openflowPort: opts.openflowPort,
    dbPath,
    pid: child.pid,
    output: () => out,
    kill: () => stopWith("SIGKILL", 0),
    stop: () => stopWith("SIGTERM", 5_000),
  };
}

/** Removes a controller database made by startControllerProcess (its temporary folder). */
export function removeDb(dbPath: string): void {
  if (dbPath.startsWith(join(tmpdir(), "icsdn-ctl-")))
    rmSync(join(dbPath, ".."), { recursive: true, force: true });
}

// --- REST ---------------------------------------------------------------------------------------

/** The controller's REST API as lab VMs reach it (the machine's management address), for LabOptions. */
export function labRest(ctl: ControllerProcess): { url: string; tokenFile: string } {
  return { url: `http://${HOST_ADDRESS}:${ctl.apiPort}`, tokenFile: ctl.tokenFile };
}

/** Creates a cluster whose members are the lab's VMs (endpoint = each VM's floating IP). */
export async function createLabCluster(
  client: ControllerClient,
  st: StatusView,
  clusterId: string,
  vms: readonly VmView[] = st.vms,
): Promise<void> {
  await client.createCluster({
    id: clusterId,
    vni: st.vni,
    tunnel: st.tunnel,
    members: vms.map((v) => ({ vmId: v.name, vint0: v.vint0.ip, endpoint: v.floatingIp })),
  });
}

/**
 * Waits until every member switch of `clusterId` is connected and holds its desired rule count
 * (`timeoutMs` at most); returns the switches.
 */
export async function waitSwitchesConverged(
  client: ControllerClient,
  clusterId: string,
  vmIds: readonly string[],
  timeoutMs = 15_000,
): Promise<SwitchEntry[]> {
  const deadline = Date.now() + timeoutMs;
  let last: SwitchEntry[] = [];
  while (Date.now() < deadline) {
    try {
      last = (await client.listSwitches()).filter((s) => s.clusterId === clusterId);
      const ok = vmIds.every((vm) =>
        last.some(
          (s) => s.vmId === vm && s.connected && s.ruleCount !== null && s.ruleCount === s.desiredRuleCount,
        ),
      );
      if (ok) return last;
    } catch (err) {
      // The controller may be restarting; anything else is a real failure.
      if (!(err instanceof ControllerClientError && err.code === "CONTROLLER_UNREACHABLE")) throw err;
    }
    await sleep(50);
  }
  throw new Error(`switches of ${clusterId} not converged within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

// --- probe streams ------------------------------------------------------------------------------

/** The VM `name` of a lab status; throws when there is none. */
export function vmOf(st: StatusView, name: string): VmView {
  const v = st.vms.find((x) => x.name === name);
  if (!v) throw new Error(`no ${name} in the lab`);
  return v;
}

interface Running<T> {
  readonly result: Promise<T>;
  readonly ready: Promise<void>;
}

/** Runs `node lab/probe.ts ...` in a namespace (bounded by `timeoutMs`), parsing its JSON line. */
function probeIn<T>(netns: string, args: string[], timeoutMs: number): Running<T> {
  const child: ChildProcess = spawn("ip", ["netns", "exec", netns, process.execPath, PROBE, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes("ready\n")) markReady();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const result = new Promise<T>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, sig) => {
      clearTimeout(timer);
      markReady();
      if (code !== 0) {
        reject(new Error(`probe ${args[0]} in ${netns}: exit ${code ?? sig}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as T);
      } catch (err) {
        reject(new Error(`probe ${args[0]} in ${netns}: bad output ${stdout}: ${String(err)}`));
      }
    });
  });
  // Readiness must not hang when the process dies before printing it.
  result.catch(() => {});
  return { result, ready };
}

export interface StreamResult extends StreamSummary {
  /** What each receiver (by namespace) got. */
  readonly perReceiver: Record<string, number>;
  readonly send: SendReport;
}

/**
 * A probe stream from `fromVm`'s current instance to `toVm`'s vint0, received on every instance
 * of `toVm` (a moved VM's old and new one): `count` datagrams at `rate`/s. `during` runs while
 * the stream flows (after `leadMs`); its result is returned with the stream's figures.
 */
export async function probeStream<T>(
  labName: string,
  fromVm: string,
  toVm: string,
  opts: { rate?: number; count?: number; leadMs?: number; port?: number },
  during: (t0: number) => Promise<T>,
): Promise<{ stream: StreamResult; during: T }> {
  const rate = opts.rate ?? 1000;
  const count = opts.count ?? 3000;
  const port = opts.port ?? DEFAULT_PROBE_STREAM_PORT;
  const st = status(labName);
  const from = vmOf(st, fromVm);
  const to = vmOf(st, toVm);
  const src = from.instances.find((i) => i.role === "current");
  if (!src) throw new Error(`${fromVm} has no current instance`);
  const streamMs = (count / rate) * 1000;
  const recvMs = streamMs + (opts.leadMs ?? 300) + 1500;
  const receivers = to.instances.map((i) => ({
    netns: i.netns,
    run: probeIn<StreamSummary & { arrivals: Arrival[] }>(
      i.netns,
      ["recv", "--on", to.vint0.ip, "--port", String(port), "--duration-ms", String(recvMs), "--arrivals"],
      recvMs + 10_000,
    ),
  }));
  await Promise.race([Promise.all(receivers.map((r) => r.run.ready)), sleep(10_000)]);
  const sender = probeIn<SendReport>(
    src.netns,
    [
      "send",
      "--from",
      from.vint0.ip,
      "--to",
      to.vint0.ip,
      "--port",
      String(port),
      "--rate",
      String(rate),
      "--count",
      String(count),
    ],
    streamMs + 15_000,
  );
  let duringResult: T;
  try {
    await sleep(opts.leadMs ?? 300);
    duringResult = await during(performance.timeOrigin + performance.now());
  } finally {
    // Whatever happened, the stream's processes end on their own (count and time bounded).
    await Promise.allSettled([sender.result, ...receivers.map((r) => r.run.result)]);
  }
  const sent = await sender.result;
  const got = await Promise.all(receivers.map((r) => r.run.result));
  const all = got.flatMap((g) => g.arrivals);
  const summary = summarize(all, sent.sent);
  return {
    stream: {
      ...summary,
      send: sent,
      perReceiver: Object.fromEntries(receivers.map((r, i) => [r.netns, got[i]?.received ?? 0])),
    },
    during: duringResult,
  };
}

/** Pings `dst` from a VM instance's namespace `count` times; returns the replies received. */
export async function pingCount(netns: string, dst: string, count = 3): Promise<number> {
  const res = await runIn(netns, "ping", ["-n", "-q", "-c", String(count), "-i", "0.2", "-W", "1", dst], {
    check: false,
    timeoutMs: 5_000 + count * 1_500,
  });
  const m = /(\d+) received/.exec(res.stdout);
  return m ? Number(m[1]) : 0;
}

/** The flows a switch holds, without counters or ages, sorted: comparable before and after. */
export async function flowTable(netns: string, dir: string): Promise<string[]> {
  const res = await runIn(netns, "ovs-ofctl", ["-O", "OpenFlow13", "--no-stats", "dump-flows", "icbr0"], {
    env: { OVS_RUNDIR: dir },
    timeoutMs: 10_000,
  });
  return res.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.includes("actions="))
    .sort();
}

/** A TCP port free right now on every address (the controller's OpenFlow port in the lab). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "0.0.0.0", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
