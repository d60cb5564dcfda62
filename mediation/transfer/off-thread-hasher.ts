import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { Manifest } from "./manifest.ts";

/** What hash-worker.ts starts with. */
export interface HashWorkerInit {
  readonly ring: SharedArrayBuffer;
  readonly slotSize: number;
  readonly chunkSize: number;
  readonly imageHashAlgo: string;
  readonly withMd5: boolean;
}

export type ToHashWorker = { type: "slot"; slot: number; length: number } | { type: "finish" };
type FromHashWorker = { type: "free"; slot: number } | { type: "manifest"; manifest: Manifest };

const SLOT_SIZE = 1 << 20;
const SLOTS = 8;

/**
 * A ManifestBuilder on a worker thread: `update` copies the bytes into a ring of shared slots and
 * returns; the worker hashes each full slot and hands it back. The event loop only copies, so
 * on a busy machine the sockets keep moving while a second core hashes. When every slot waits
 * for the worker, `update` waits too: the hashing is part of the stream's backpressure, and
 * memory stays at the ring's size (8 MiB).
 */
export class OffThreadHasher {
  readonly #worker: Worker;
  readonly #ring: Buffer;
  readonly #free: number[] = [];
  #slot: number | undefined;
  #fill = 0;
  #size = 0;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #done: { resolve: (m: Manifest) => void; reject: (err: Error) => void } | undefined;
  #closed = false;

  constructor(chunkSize: number, imageHashAlgo: string, withMd5 = false) {
    if (!(chunkSize > 0)) throw new RangeError("chunkSize must be positive");
    createHash(imageHashAlgo); // an unknown algorithm throws here, before anything is created
    const ring = new SharedArrayBuffer(SLOT_SIZE * SLOTS);
    this.#ring = Buffer.from(ring);
    for (let s = SLOTS - 1; s >= 0; s--) this.#free.push(s);
    const init: HashWorkerInit = { ring, slotSize: SLOT_SIZE, chunkSize, imageHashAlgo, withMd5 };
    this.#worker = new Worker(new URL("./hash-worker.ts", import.meta.url), { workerData: init });
    this.#worker.on("message", (m: FromHashWorker) => {
      if (m.type === "free") this.#free.push(m.slot);
      else this.#done?.resolve(m.manifest);
      this.#wakeUp();
    });
    this.#worker.on("error", (err) => this.#fail(err));
    this.#worker.on("exit", (code) => this.#fail(new Error(`exited with code ${code}`)));
  }

  /** Bytes accepted so far: the offset a resumed download must start from. */
  get size(): number {
    return this.#size;
  }

  /** Why the worker stopped, if it failed: nothing more can be hashed (not worth a retry). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Takes `data` (copied; the caller may pass it on at once); waits while every slot is being hashed. */
  async update(data: Buffer): Promise<void> {
    if (this.#failure) throw this.#failure;
    let at = 0;
    while (at < data.length) {
      this.#slot ??= this.#free.pop() ?? (await this.#nextFreeSlot());
      const take = Math.min(SLOT_SIZE - this.#fill, data.length - at);
      data.copy(this.#ring, this.#slot * SLOT_SIZE + this.#fill, at, at + take);
      this.#fill += take;
      at += take;
      if (this.#fill === SLOT_SIZE) this.#post();
    }
    this.#size += data.length;
  }

  /** The manifest of every byte taken; the worker stops afterwards. */
  async finish(): Promise<Manifest> {
    if (this.#fill > 0) this.#post();
    const manifest = new Promise<Manifest>((resolve, reject) => {
      this.#done = { resolve, reject };
    });
    try {
      this.#send({ type: "finish" });
      return await manifest;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker (idempotent; a transfer calls it whether it succeeded or not). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure ??= new Error("the hasher is closed");
    this.#done?.reject(this.#failure);
    this.#wakeUp();
    await this.#worker.terminate();
  }

  #post(): void {
    this.#send({ type: "slot", slot: this.#slot!, length: this.#fill });
    this.#slot = undefined;
    this.#fill = 0;
  }

  #send(m: ToHashWorker): void {
    if (this.#failure) throw this.#failure;
    this.#worker.postMessage(m);
  }

  async #nextFreeSlot(): Promise<number> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      const slot = this.#free.pop();
      if (slot !== undefined) return slot;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #fail(err: Error): void {
    if (this.#closed || this.#failure) return;
    this.#failure = new Error(`the hashing worker failed: ${err.message}`, { cause: err });
    this.#done?.reject(this.#failure);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
