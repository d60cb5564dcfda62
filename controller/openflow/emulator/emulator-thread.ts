import { Worker } from "node:worker_threads";

export interface EmulatorThreadSetup {
  readonly controller: { readonly host: string; readonly port: number };
  /** One entry per switch; with endpoints, the switches share an emulated underlay (probes flow). */
  readonly switches: readonly { readonly dpid: bigint; readonly endpoint?: string }[];
  readonly neighborDelayMs?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

export type EmulatorThreadRequest =
  | { readonly type: "tables"; readonly id: number; readonly indexes: readonly number[] }
  | { readonly type: "close" };

type Reply =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "tables"; readonly id: number; readonly tables: Uint8Array[][] };

/**
 * A SwitchEmulator in a worker thread: a thousand switches answer on the second core while the
 * controller keeps its own event loop, so a measured update time is the controller's, not the
 * sum of both sides' work on one thread.
 */
export class EmulatorThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, (tables: Uint8Array[][]) => void>();
  #nextId = 0;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on("message", (m: Reply) => {
      if (m.type !== "tables") return;
      this.#waiting.get(m.id)?.(m.tables);
      this.#waiting.delete(m.id);
    });
  }

  /** Starts the thread; resolves once every switch has connected and sent its features. */
  static async start(setup: EmulatorThreadSetup): Promise<EmulatorThread> {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: setup });
    const ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (m: Reply) => {
        if (m.type === "ready") resolve();
        else if (m.type === "failed") reject(new Error(`emulator thread: ${m.message}`));
      });
      worker.once("error", reject);
      worker.once("exit", (code) =>
        reject(new Error(`emulator thread exited (${code}) before it was ready`)),
      );
    });
    const thread = new EmulatorThread(worker);
    try {
      await ready;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return thread;
  }

  /** The FLOW_MOD bytes of every entry of the switches at `indexes` (in setup order). */
  tables(indexes: readonly number[]): Promise<Uint8Array[][]> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#worker.postMessage({ type: "tables", id, indexes } satisfies EmulatorThreadRequest);
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#worker.once("exit", () => resolve()));
    this.#worker.postMessage({ type: "close" } satisfies EmulatorThreadRequest);
    const timer = setTimeout(() => void this.#worker.terminate(), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
