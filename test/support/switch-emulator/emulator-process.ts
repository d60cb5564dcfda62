import { type ChildProcess, fork } from "node:child_process";

export interface EmulatorProcessSetup {
  readonly controller: { readonly host: string; readonly port: number };
  /** One entry per switch; with endpoints, the switches share an emulated underlay (probes flow). */
  readonly switches: readonly {
    readonly dpid: bigint;
    readonly endpoint?: string;
    /** False: a sink that confirms FLOW_MODs without keeping them (EmulatedSwitchOptions.keepsTable). */
    readonly keepsTable?: boolean;
  }[];
  /**
   * A second controller (a bench's bare OpenFlow speaker): each switch also dials it over a
   * connection of its own, in the same process, to measure the floor of a round to every switch.
   */
  readonly floor?: { readonly host: string; readonly port: number };
  readonly neighborDelayMs?: number;
  /**
   * The process's niceness (os.setPriority): a bench whose subject is the controller lowers the
   * emulator's, so that on a machine of few cores the switches (which would be other machines)
   * do not take the controller's CPU.
   */
  readonly nice?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

export type EmulatorProcessRequest =
  | { readonly type: "tables"; readonly id: number; readonly indexes: readonly number[] }
  | { readonly type: "close" };

export type EmulatorProcessReply =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "tables"; readonly id: number; readonly tables: Uint8Array[][] };

/**
 * A SwitchEmulator in a process of its own: a thousand switches answer with their own event loop
 * (and heap and garbage collector), so a measured update time is the controller's, not the sum of
 * both sides' work in one process.
 */
export class EmulatorProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (tables: Uint8Array[][]) => void>();
  #nextId = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on("message", (m: EmulatorProcessReply) => {
      if (m.type !== "tables") return;
      this.#waiting.get(m.id)?.(m.tables);
      this.#waiting.delete(m.id);
    });
  }

  /** Starts the process; resolves once every switch has connected and sent its features. */
  static async start(setup: EmulatorProcessSetup): Promise<EmulatorProcess> {
    const child = fork(new URL("./emulator-child.ts", import.meta.url), {
      serialization: "advanced",
      execArgv: ["--disable-warning=ExperimentalWarning"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.on("message", (m: EmulatorProcessReply) => {
        if (m.type === "ready") resolve();
        else if (m.type === "failed") reject(new Error(`emulator process: ${m.message}`));
      });
      child.once("error", reject);
      child.once("exit", (code) =>
        reject(new Error(`emulator process exited (${code}) before it was ready`)),
      );
    });
    child.send(setup);
    try {
      await ready;
    } catch (err) {
      child.kill("SIGKILL");
      throw err;
    }
    return new EmulatorProcess(child);
  }

  /** The process's id (a bench lowers its priority once the switches are programmed). */
  get pid(): number {
    return this.#child.pid!;
  }

  /** The FLOW_MOD bytes of every entry of the switches at `indexes` (in setup order). */
  async tables(indexes: readonly number[]): Promise<Uint8Array[][]> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.send({ type: "tables", id, indexes } satisfies EmulatorProcessRequest);
    });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.send({ type: "close" } satisfies EmulatorProcessRequest);
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
