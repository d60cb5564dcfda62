/**
 * Runs a probe mesh (lab/probe-mesh.ts) across lab VM instances: one node per instance in its
 * namespace, nodes added as a moved member's new instance appears, the members' cutover moments
 * recorded as they happen, and the report when it stops. Nodes are bounded in time by themselves
 * and killed by `stop`, so nothing outlives the mesh.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "./paths.ts";
import {
  DEFAULT_MESH_PORT,
  type MeshNodeRecord,
  type MeshReport,
  meshReport,
  parseNodeOutput,
  type SenderWindow,
} from "./probe-mesh.ts";

const NODE = join(REPO_ROOT, "lab", "probe-mesh.ts");
/** Packets sent this close to the mesh's start or end do not count: peers may not listen yet, or no more. */
const EDGE_MS = 1000;

export interface MeshMember {
  readonly name: string;
  readonly vint0: string;
}

interface Node {
  readonly member: string;
  readonly vint0: string;
  readonly gen: number;
  readonly netns: string;
  readonly child: ChildProcess;
  readonly closed: Promise<void>;
  output: string;
}

export class ProbeMesh {
  readonly #members: readonly MeshMember[];
  readonly #rate: number;
  readonly #port: number;
  readonly #nodes: Node[] = [];
  readonly #windows = new Map<string, { from: number | null; to: number | null }>();
  #startedAt = 0;

  private constructor(members: readonly MeshMember[], rate: number, port: number) {
    this.#members = members;
    this.#rate = rate;
    this.#port = port;
  }

  /** Starts a node in every member's namespace (generation 0) and waits until all listen. */
  static async start(
    members: readonly (MeshMember & { netns: string })[],
    opts: { rate?: number; port?: number } = {},
  ): Promise<ProbeMesh> {
    const mesh = new ProbeMesh(members, opts.rate ?? 100, opts.port ?? DEFAULT_MESH_PORT);
    try {
      await Promise.all(members.map((m) => mesh.#spawn(m.name, 0, m.netns)));
    } catch (err) {
      await mesh.#killAll();
      throw err;
    }
    mesh.#startedAt = Date.now() + EDGE_MS;
    return mesh;
  }

  /**
   * A new instance of `member`: a node of the next generation in its namespace, listening before
   * its rebind. The server's id is known before its namespace exists: waits for it (`timeoutMs`).
   */
  async attach(member: string, netns: string, timeoutMs = 120_000): Promise<number> {
    const gen = Math.max(...this.#nodes.filter((n) => n.member === member).map((n) => n.gen)) + 1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (existsSync(join("/run/netns", netns))) {
          await this.#spawn(member, gen, netns);
          // It counts from its rebind on (cutover): a move that never rebinds (rolled back) leaves
          // the old instance the member throughout.
          this.#windows.set(`${member}/${gen}`, { from: Number.POSITIVE_INFINITY, to: null });
          return gen;
        }
      } catch (err) {
        // `ip netns add` makes the file before it mounts the namespace on it: entering it in
        // between fails with EINVAL, and a moment later works.
        const unmounted = /setting the network namespace .* failed: Invalid argument/.test(String(err));
        if (!unmounted || Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`probe mesh: no namespace ${netns} within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * `member` changes instances: its generation `gen - 1` counts until `announcedAt` (its new
   * endpoint announced), generation `gen` from `reboundAt` on.
   */
  cutover(member: string, gen: number, announcedAt: number, reboundAt: number): void {
    const old = this.#windows.get(`${member}/${gen - 1}`) ?? { from: null, to: null };
    this.#windows.set(`${member}/${gen - 1}`, { ...old, to: announcedAt });
    this.#windows.set(`${member}/${gen}`, { from: reboundAt, to: null });
  }

  /** Ends every node and judges what they saw. */
  async stop(): Promise<MeshReport> {
    const stoppedAt = Date.now() - EDGE_MS;
    await sleep(EDGE_MS);
    await this.#killAll();
    const records: MeshNodeRecord[] = this.#nodes.map((n) =>
      parseNodeOutput(n.member, n.vint0, n.gen, n.output),
    );
    const windows: SenderWindow[] = this.#nodes.map((n) => {
      const w = this.#windows.get(`${n.member}/${n.gen}`) ?? { from: null, to: null };
      return {
        member: n.member,
        gen: n.gen,
        from: Math.max(w.from ?? 0, this.#startedAt),
        to: Math.min(w.to ?? Number.POSITIVE_INFINITY, stoppedAt),
      };
    });
    return meshReport(records, windows);
  }

  async #spawn(member: string, gen: number, netns: string): Promise<void> {
    const self = this.#members.find((m) => m.name === member);
    if (!self) throw new Error(`probe mesh: no member ${member}`);
    const peers = this.#members.filter((m) => m.name !== member).map((m) => m.vint0);
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        netns,
        process.execPath,
        NODE,
        "--self",
        self.vint0,
        "--gen",
        String(gen),
        "--peers",
        peers.join(","),
        "--port",
        String(this.#port),
        "--rate",
        String(this.#rate),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const node: Node = {
      member,
      vint0: self.vint0,
      gen,
      netns,
      child,
      output: "",
      closed: new Promise<void>((resolve) => child.once("close", () => resolve())),
    };
    this.#nodes.push(node);
    child.stdout?.on("data", (d: Buffer) => {
      node.output += d.toString();
    });
    let stderr = "";
    let ready = false;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`probe node in ${netns} not ready: ${stderr}`)),
        20_000,
      );
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("ready\n")) {
          clearTimeout(timer);
          ready = true;
          resolve();
        }
      });
      child.once("close", (code) => {
        clearTimeout(timer);
        if (ready) return;
        // Never listened: it saw nothing, and is no instance of the member.
        this.#nodes.splice(this.#nodes.indexOf(node), 1);
        reject(new Error(`probe node in ${netns} ended (exit ${code}): ${stderr}`));
      });
    });
  }

  async #killAll(): Promise<void> {
    for (const n of this.#nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill();
    const all = Promise.all(this.#nodes.map((n) => n.closed));
    const timer = setTimeout(() => {
      for (const n of this.#nodes) n.child.kill("SIGKILL");
    }, 5_000);
    await all;
    clearTimeout(timer);
  }
}
