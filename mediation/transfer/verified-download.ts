import { finished, Readable } from "node:stream";
import type { CloudDriver, ImageInfo } from "../clouds/cloud-driver.ts";
import { MediationError } from "../errors.ts";
import type { OffThreadHasher } from "./off-thread-hasher.ts";

export interface DownloadState {
  resumes: number;
  downloadMs: number;
  /** Set when the download gave up (resumes spent) or the hasher failed: not worth an upload retry. */
  failure: Error | undefined;
}

/**
 * The source image's bytes as one Readable, for the upload to consume: every socket read is handed
 * to the hasher before it is passed on, and a response that breaks is resumed with a Range from
 * the last byte passed on (nothing twice, nothing lost). Plain `data` events and `pause`/`resume`:
 * per read one copy into the hasher's ring and one push, no promise unless the ring is full (an
 * async generator under `Readable.from` cost five promises and their garbage per 64 KiB read).
 */
export class VerifiedDownload extends Readable {
  readonly #source: CloudDriver;
  readonly #image: ImageInfo;
  readonly #hasher: OffThreadHasher;
  readonly #state: DownloadState;
  readonly #maxResumes: number;
  readonly #onBytes: () => void;
  readonly #started = performance.now();
  #part: Readable | undefined;
  /** The ring was full: a read waits in the hasher, the response is paused until it is taken. */
  #waiting = false;
  #opening = false;

  constructor(o: {
    source: CloudDriver;
    image: ImageInfo;
    hasher: OffThreadHasher;
    state: DownloadState;
    maxResumes: number;
    onBytes: () => void;
  }) {
    // A 1 MiB buffer between the download and the upload: a slow moment of one side does not stall the other.
    super({ highWaterMark: 1 << 20 });
    this.#source = o.source;
    this.#image = o.image;
    this.#hasher = o.hasher;
    this.#state = o.state;
    this.#maxResumes = o.maxResumes;
    this.#onBytes = o.onBytes;
  }

  override _read(): void {
    if (this.#part === undefined) {
      if (!this.#opening) this.#open();
    } else if (!this.#waiting) {
      this.#part.resume();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#part?.destroy();
    callback(err);
  }

  /** GET from the first byte not yet passed on. */
  #open(): void {
    this.#opening = true;
    this.#source.downloadImage(this.#image.id, this.#hasher.size).then(
      (body) => {
        this.#opening = false;
        if (this.destroyed) {
          body.stream.destroy();
          return;
        }
        const part = body.stream;
        this.#part = part;
        part.on("data", (chunk: Buffer) => this.#take(part, chunk));
        finished(part, (err) => {
          if (this.#part === part) this.#ended(err ?? undefined);
        });
      },
      (err: unknown) => {
        this.#opening = false;
        this.#broken(err as Error);
      },
    );
  }

  #take(part: Readable, chunk: Buffer): void {
    if (this.#hasher.tryUpdate(chunk)) {
      if (!this.push(chunk)) part.pause();
      this.#onBytes();
      return;
    }
    part.pause();
    this.#waiting = true;
    this.#hasher.update(chunk).then(
      () => {
        this.#waiting = false;
        if (this.destroyed) return;
        if (this.push(chunk)) part.resume();
        this.#onBytes();
        // The response may have ended or broken while this read waited for the ring.
        if (part.readableEnded || part.destroyed) this.#ended(part.errored ?? undefined);
      },
      (err: unknown) => this.#broken(err as Error),
    );
  }

  /** The response is over (or broke): done, resumed, or failed. */
  #ended(err: Error | undefined): void {
    if (this.#waiting || this.destroyed) return;
    this.#part = undefined;
    const total = this.#image.size;
    if (err === undefined && (total === undefined || this.#hasher.size >= total)) {
      this.#state.downloadMs = performance.now() - this.#started;
      this.push(null);
      return;
    }
    this.#broken(err ?? new Error(`the download ended at byte ${this.#hasher.size} of ${total}`));
  }

  #broken(err: Error): void {
    if (this.destroyed) return;
    if (err instanceof MediationError && err.code === "CANCELLED") {
      this.destroy(err);
      return;
    }
    if (this.#hasher.failure) {
      this.#state.failure = this.#hasher.failure;
      this.destroy(err);
      return;
    }
    if (this.#state.resumes >= this.#maxResumes) {
      // Kept in state too: the upload fails with it, and the caller must not retry the upload for it.
      this.#state.failure = new MediationError(
        "CLOUD_API",
        `download from cloud '${this.#source.name}' broke ${this.#state.resumes + 1} times; last at byte ${this.#hasher.size}: ${err.message}`,
        { cause: err },
      );
      this.destroy(this.#state.failure);
      return;
    }
    this.#state.resumes++;
    this.#open();
  }
}
