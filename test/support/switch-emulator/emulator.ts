import type { EmulatedNetwork } from "./dataplane.ts";
import { EmulatedSwitch, type EmulatedSwitchOptions } from "./emulated-switch.ts";

/**
 * Many emulated switches in one process, each with its own TCP connection to the controller:
 * for tests and the scale bench (a 1,000-member cluster on 127.0.0.1).
 */
export class SwitchEmulator {
  readonly switches: EmulatedSwitch[] = [];
  readonly #controller: { host: string; port: number };
  readonly #network: EmulatedNetwork | undefined;

  constructor(options: { controller: { host: string; port: number }; network?: EmulatedNetwork }) {
    this.#controller = options.controller;
    this.#network = options.network;
  }

  /** A switch, not connected yet. */
  add(options: Omit<EmulatedSwitchOptions, "controller" | "network">): EmulatedSwitch {
    const sw = new EmulatedSwitch({
      ...options,
      controller: this.#controller,
      ...(this.#network && { network: this.#network }),
    });
    this.switches.push(sw);
    return sw;
  }

  /** Connects every switch not connected, `concurrency` at a time, and waits for each handshake. */
  async connectAll(options: { concurrency?: number; timeoutMs?: number } = {}): Promise<void> {
    const queue = this.switches.filter((sw) => !sw.connected);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const worker = async () => {
      for (let sw = queue.shift(); sw; sw = queue.shift()) {
        await sw.connect();
        await withTimeout(sw.ready, timeoutMs, `switch ${sw.dpid.toString(16)} handshake`);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 64 }, worker));
  }

  close(): void {
    for (const sw of this.switches) sw.close();
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
