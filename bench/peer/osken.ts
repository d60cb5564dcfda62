import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";

/** Debian's python3-os-ken runs on the system's Python, whatever python3 comes first on PATH. */
const PYTHON = "/usr/bin/python3";
const MANAGER = "/usr/bin/osken-manager";
const APP = fileURLToPath(new URL("./osken_rebind.py", import.meta.url));

export interface OskenMember {
  readonly dpid: bigint;
  readonly vint0: string;
  readonly endpoint: string;
}

/** Whether os-ken can run here. */
export function oskenAvailable(): boolean {
  return spawnSync(PYTHON, ["-c", "import os_ken"]).status === 0;
}

/**
 * os-ken (osken-manager with bench/peer/osken_rebind.py) as a peer controller: switches dial its
 * OpenFlow port; the bench drives it over a TCP connection on 127.0.0.1, one JSON line per request.
 */
export class OskenPeer {
  readonly ofPort: number;
  readonly #child: ChildProcess;
  readonly #socket: Socket;
  #lines: string[] = [];
  #pending = "";
  #wake: (() => void) | undefined;
  readonly #log: { text: string };

  private constructor(ofPort: number, child: ChildProcess, socket: Socket, log: { text: string }) {
    this.ofPort = ofPort;
    this.#child = child;
    this.#socket = socket;
    this.#log = log;
    socket.on("data", (chunk: Buffer) => {
      const parts = (this.#pending + chunk.toString("utf8")).split("\n");
      this.#pending = parts.pop()!;
      this.#lines.push(...parts);
      this.#wake?.();
    });
  }

  static async start(): Promise<OskenPeer> {
    const ofPort = await freePort();
    const commandPort = await freePort();
    const child = spawn(
      PYTHON,
      [MANAGER, "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", String(ofPort), APP],
      {
        env: { ...process.env, ICSDN_OSKEN_COMMAND_PORT: String(commandPort) },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    // Its output, for the error when it fails (the last 2,000 characters are shown).
    const log = { text: "" };
    const keep = (c: Buffer) => {
      log.text = (log.text + c.toString()).slice(-4000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(commandPort, "127.0.0.1", () => resolve(s));
          s.once("error", reject);
        });
        return new OskenPeer(ofPort, child, socket, log);
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill("SIGKILL");
          throw new Error(`os-ken did not start: ${(err as Error).message}\n${log.text.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Datapaths connected to os-ken. */
  async switches(): Promise<number> {
    return ((await this.#ask({ op: "switches" })) as { switches: number }).switches;
  }

  /** Installs every member's ip and arp egress rule on every other member's switch; ms. */
  async setup(vni: number, members: readonly OskenMember[]): Promise<number> {
    const wire = members.map((m) => ({ ...m, dpid: `0x${m.dpid.toString(16)}` }));
    return ((await this.#ask({ op: "setup", vni, members: wire })) as { ms: number }).ms;
  }

  /** Rewrites the moved member's rules on every peer (MODIFY_STRICT) and waits for the barriers; ms. */
  async rebind(dpid: bigint, endpoint: string): Promise<number> {
    return ((await this.#ask({ op: "rebind", dpid: `0x${dpid.toString(16)}`, endpoint })) as { ms: number })
      .ms;
  }

  async close(): Promise<void> {
    this.#socket.destroy();
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    if (this.#child.exitCode === null) this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  }

  async #ask(request: object): Promise<unknown> {
    this.#socket.write(`${JSON.stringify(request)}\n`);
    while (this.#lines.length === 0) {
      if (this.#child.exitCode !== null) throw new Error(`os-ken exited: ${this.#log.text.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 1_000);
      });
    }
    const reply = JSON.parse(this.#lines.shift()!) as { error?: string };
    if (reply.error !== undefined) throw new Error(`os-ken: ${reply.error}`);
    return reply;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}
