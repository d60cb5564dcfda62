import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { Manifest, ManifestChunk } from "./manifest.ts";

/** What hash-worker.js is told (workerData, then messages) and answers. */
interface HashWorkerInit {
  readonly ring: SharedArrayBuffer;
  readonly slotSize: number;
  readonly imageHashAlgo: string;
  readonly withMd5: boolean;
}
/** `cuts`: the offsets in the slot where a manifest chunk ends (its SHA-256 is taken there). */
type ToHashWorker =
  | { type: "slot"; slot: number; length: number; cuts: number[] }
  | { type: "finish"; closeChunk: boolean };
type FromHashWorker =
  | { type: "free"; slot: number; digests: string[] }
  | { type: "done"; digests: string[]; whole: string; md5: string | undefined };

const SLOT_SIZE = 1 << 20;
const SLOTS = 8;
// The worker's own heap holds a few hash objects and digests: a small young generation keeps its
// resident size down (the service's goal is <= 200 MB while moving a gigabyte).
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 };

/**
 * The manifest (manifest.ts: a SHA-256 per `chunkSize` piece, the whole image in the cloud's
 * algorithm, MD5 when asked) computed on a worker thread. `update` copies the bytes into a ring of
 * shared slots and returns; the worker hashes each full slot and hands it back. The event loop only
 * copies, so the sockets keep moving while another core hashes. When every slot waits for the
 * worker, `update` waits too: hashing is part of the stream's backpressure, and memory stays at the
 * ring's 8 MiB. Chunk boundaries are decided here; the worker only runs the hashes.
 */
export class OffThreadHasher {
  readonly #chunkSize: number;
  readonly #algo: string;
  readonly #worker: Worker;
  readonly #ring: Buffer;
  readonly #free: number[] = [];
  readonly #digests: string[] = [];
  #slot: number | undefined;
  #fill = 0;
  #size = 0;
  /** Bytes posted to the worker since the last chunk boundary. */
  #chunkFill = 0;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #done:
    | { resolve: (m: FromHashWorker & { type: "done" }) => void; reject: (err: Error) => void }
    | undefined;
  #closed = false;

  constructor(chunkSize: number, imageHashAlgo: string, withMd5 = false) {
    if (!(chunkSize > 0)) throw new RangeError("chunkSize must be positive");
    createHash(imageHashAlgo); // an unknown algorithm throws here, before anything is created
    this.#chunkSize = chunkSize;
    this.#algo = imageHashAlgo;
    const ring = new SharedArrayBuffer(SLOT_SIZE * SLOTS);
    this.#ring = Buffer.from(ring);
    for (let s = SLOTS - 1; s >= 0; s--) this.#free.push(s);
    const init: HashWorkerInit = { ring, slotSize: SLOT_SIZE, imageHashAlgo, withMd5 };
    this.#worker = new Worker(new URL("./hash-worker.js", import.meta.url), {
      workerData: init,
      resourceLimits: WORKER_LIMITS,
    });
    this.#worker.on("message", (m: FromHashWorker) => {
      this.#digests.push(...m.digests);
      if (m.type === "free") this.#free.push(m.slot);
      else this.#done?.resolve(m);
      this.#wakeUp();
    });
    this.#worker.on("error", (err) => this.#fail(err));
    this.#worker.on("exit", (code) => this.#fail(new Error(`exited with code ${code}`)));
  }

  /** Bytes taken so far: the offset a resumed download must start from. */
  get size(): number {
    return this.#size;
  }

  /** Why no more can be hashed (the worker failed, or the hasher is closed): not worth a retry. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Takes `data` (copied: the caller may pass it on at once); waits while every slot is being hashed. */
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
    const done = new Promise<FromHashWorker & { type: "done" }>((resolve, reject) => {
      this.#done = { resolve, reject };
    });
    try {
      this.#send({ type: "finish", closeChunk: this.#chunkFill > 0 });
      const { whole, md5 } = await done;
      const chunks: ManifestChunk[] = this.#digests.map((sha256, index) => ({
        index,
        offset: index * this.#chunkSize,
        length: Math.min(this.#chunkSize, this.#size - index * this.#chunkSize),
        sha256,
      }));
      return {
        chunkSize: this.#chunkSize,
        size: this.#size,
        chunks,
        imageHash: { algo: this.#algo, value: whole },
        md5,
      };
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

  /** Hands the current slot to the worker, with the chunk boundaries that fall in it. */
  #post(): void {
    const cuts: number[] = [];
    for (let at = this.#chunkSize - this.#chunkFill; at <= this.#fill; at += this.#chunkSize) cuts.push(at);
    this.#chunkFill = (this.#chunkFill + this.#fill) % this.#chunkSize;
    this.#send({ type: "slot", slot: this.#slot!, length: this.#fill, cuts });
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
