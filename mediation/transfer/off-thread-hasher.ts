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

/** A filled slot lent to the upload: its bytes stay as they are until `release`. */
export interface LentSlot {
  readonly bytes: Buffer;
  readonly release: () => void;
}

/**
 * The manifest (manifest.ts: a SHA-256 per `chunkSize` piece, the whole image in the cloud's
 * algorithm, MD5 when asked) computed on a worker thread, over a ring of shared 1 MiB slots the
 * bytes land in once: `space` lends the free rest of the current slot to be read into (`wrote`
 * counts what was), `update` copies into it. A full slot goes to the worker and, when `lend` is
 * set, to the upload too (`nextFilled`), and is reused only when both gave it back. When every
 * slot is taken, `space` waits: hashing and the upload are the stream's backpressure, and memory
 * stays at the ring's 8 MiB. Chunk boundaries are decided here; the worker only runs the hashes.
 */
export class OffThreadHasher {
  readonly #chunkSize: number;
  readonly #algo: string;
  readonly #lend: boolean;
  readonly #worker: Worker;
  readonly #ring: Buffer;
  readonly #free: number[] = [];
  /** Per slot: how many of the worker and the upload still hold it. */
  readonly #holds = new Uint8Array(SLOTS);
  /** Slots posted and not yet taken by the upload, in order. */
  readonly #filled: number[] = [];
  /** Per slot: how many of its bytes were posted. */
  readonly #posted = new Uint32Array(SLOTS);
  readonly #digests: string[] = [];
  #slot: number | undefined;
  #fill = 0;
  #size = 0;
  /** Bytes posted to the worker since the last chunk boundary. */
  #chunkFill = 0;
  #ended = false;
  #failure: Error | undefined;
  #workerFailure: Error | undefined;
  #waiters: (() => void)[] = [];
  #done:
    | { resolve: (m: FromHashWorker & { type: "done" }) => void; reject: (err: Error) => void }
    | undefined;
  #closed = false;

  /** `lend`: full slots also go to `nextFilled` (the upload), and wait for its release. */
  constructor(chunkSize: number, imageHashAlgo: string, withMd5 = false, lend = false) {
    if (!(chunkSize > 0)) throw new RangeError("chunkSize must be positive");
    createHash(imageHashAlgo); // an unknown algorithm throws here, before anything is created
    this.#chunkSize = chunkSize;
    this.#algo = imageHashAlgo;
    this.#lend = lend;
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
      if (m.type === "free") this.#release(m.slot);
      else this.#done?.resolve(m);
      this.#wakeUp();
    });
    this.#worker.on("error", (err) => this.#workerFailed(err));
    this.#worker.on("exit", (code) => this.#workerFailed(new Error(`exited with code ${code}`)));
  }

  /** Bytes taken so far: the offset a resumed download must start from. */
  get size(): number {
    return this.#size;
  }

  /** Why no more can be taken (the worker failed, the hasher is closed, `fail`). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Set when the worker itself failed (not `fail` or `close`): not worth another attempt. */
  get workerFailure(): Error | undefined {
    return this.#workerFailure;
  }

  /** The free rest of the current slot, to read into; `wrote` says how much was. Waits for a free slot. */
  async space(): Promise<Buffer> {
    if (this.#failure) throw this.#failure;
    if (this.#ended) throw new Error("the hasher was told the bytes ended");
    this.#slot ??= this.#free.pop() ?? (await this.#nextFreeSlot());
    const at = this.#slot * SLOT_SIZE;
    return this.#ring.subarray(at + this.#fill, at + SLOT_SIZE);
  }

  /** `n` bytes were written at the start of what `space` gave. */
  wrote(n: number): void {
    if (this.#failure) throw this.#failure;
    if (this.#slot === undefined || n < 0 || this.#fill + n > SLOT_SIZE)
      throw new RangeError(`wrote ${n} bytes into no slot or past its end`);
    this.#fill += n;
    this.#size += n;
    if (this.#fill === SLOT_SIZE) this.#post();
  }

  /** Takes `data` (copied: the caller may pass it on at once); waits while every slot is taken. */
  async update(data: Buffer): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const space = await this.space();
      const take = Math.min(space.length, data.length - at);
      data.copy(space, 0, at, at + take);
      this.wrote(take);
      at += take;
    }
  }

  /** No more bytes: the last, partial slot goes out, and `nextFilled` ends after it. */
  end(): void {
    if (this.#ended) return;
    if (this.#fill > 0) this.#post();
    this.#ended = true;
    this.#wakeUp();
  }

  /** The next full slot for the upload (in order), undefined after `end`'s last one. */
  async nextFilled(): Promise<LentSlot | undefined> {
    if (!this.#lend) throw new Error("this hasher lends no slots");
    for (;;) {
      if (this.#failure) throw this.#failure;
      const slot = this.#filled.shift();
      if (slot !== undefined) {
        const length = this.#posted[slot]!;
        let released = false;
        const bytes = this.#ring.subarray(slot * SLOT_SIZE, slot * SLOT_SIZE + length);
        return {
          bytes,
          release: () => {
            if (released) return;
            released = true;
            this.#release(slot);
            this.#wakeUp();
          },
        };
      }
      if (this.#ended) return undefined;
      await this.#changed();
    }
  }

  /** The manifest of every byte taken; the worker stops afterwards. */
  async finish(): Promise<Manifest> {
    this.end();
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
    this.fail(new Error("the hasher is closed"));
    await this.#worker.terminate();
  }

  /** Nothing more goes through: every wait (`space`, `nextFilled`, `finish`) and later call fails with `err`. */
  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#done?.reject(err);
    this.#wakeUp();
  }

  #workerFailed(err: Error): void {
    if (this.#closed || this.#failure) return;
    this.#workerFailure = new Error(`the hashing worker failed: ${err.message}`, { cause: err });
    this.fail(this.#workerFailure);
  }

  /** Hands the current slot to the worker (with the chunk boundaries that fall in it) and the upload. */
  #post(): void {
    const cuts: number[] = [];
    for (let at = this.#chunkSize - this.#chunkFill; at <= this.#fill; at += this.#chunkSize) cuts.push(at);
    this.#chunkFill = (this.#chunkFill + this.#fill) % this.#chunkSize;
    const slot = this.#slot!;
    this.#holds[slot] = this.#lend ? 2 : 1;
    this.#posted[slot] = this.#fill;
    if (this.#lend) this.#filled.push(slot);
    this.#send({ type: "slot", slot, length: this.#fill, cuts });
    this.#slot = undefined;
    this.#fill = 0;
  }

  #release(slot: number): void {
    if (--this.#holds[slot]! === 0) this.#free.push(slot);
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
      await this.#changed();
    }
  }

  #changed(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #wakeUp(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
