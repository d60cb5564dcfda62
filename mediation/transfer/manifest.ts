import { createHash, type Hash } from "node:crypto";

/** One fixed-size piece of the image and its SHA-256. */
export interface ManifestChunk {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  readonly sha256: string;
}

/** What flowed: every chunk's hash, the whole image's SHA-256, and the hash the source cloud uses. */
export interface Manifest {
  readonly chunkSize: number;
  readonly size: number;
  readonly chunks: readonly ManifestChunk[];
  readonly sha256: string;
  /** The source Glance's os_hash_algo (sha512 by default) and our value of it. */
  readonly cloudHashAlgo: string;
  readonly cloudHashValue: string;
  readonly md5: string;
}

export const DEFAULT_CHUNK_SIZE = 8 << 20;

/**
 * Hashes a byte stream as it passes: a SHA-256 per `chunkSize` piece, and whole-stream SHA-256,
 * the cloud's algorithm and MD5. Feed it in order; `finish()` once at the end.
 */
export class ManifestBuilder {
  readonly #chunkSize: number;
  readonly #chunks: ManifestChunk[] = [];
  readonly #whole = createHash("sha256");
  readonly #cloud: Hash;
  readonly #md5 = createHash("md5");
  readonly #cloudAlgo: string;
  #chunk = createHash("sha256");
  #chunkFill = 0;
  #size = 0;

  constructor(chunkSize: number, cloudHashAlgo: string) {
    if (!(chunkSize > 0)) throw new RangeError("chunkSize must be positive");
    this.#chunkSize = chunkSize;
    this.#cloudAlgo = cloudHashAlgo;
    this.#cloud = cloudHashAlgo === "sha256" ? createHash("sha256") : createHash(cloudHashAlgo);
  }

  /** Bytes hashed so far: the offset a resumed download must start from. */
  get size(): number {
    return this.#size;
  }

  /** Chunks completed so far (the last, partial one is added by finish). */
  get chunks(): readonly ManifestChunk[] {
    return this.#chunks;
  }

  update(data: Buffer): void {
    this.#whole.update(data);
    if (this.#cloudAlgo !== "sha256") this.#cloud.update(data);
    this.#md5.update(data);
    let at = 0;
    while (at < data.length) {
      const take = Math.min(this.#chunkSize - this.#chunkFill, data.length - at);
      this.#chunk.update(data.subarray(at, at + take));
      this.#chunkFill += take;
      at += take;
      if (this.#chunkFill === this.#chunkSize) this.#closeChunk();
    }
    this.#size += data.length;
  }

  finish(): Manifest {
    if (this.#chunkFill > 0) this.#closeChunk();
    const sha256 = this.#whole.digest("hex");
    return {
      chunkSize: this.#chunkSize,
      size: this.#size,
      chunks: this.#chunks,
      sha256,
      cloudHashAlgo: this.#cloudAlgo,
      cloudHashValue: this.#cloudAlgo === "sha256" ? sha256 : this.#cloud.digest("hex"),
      md5: this.#md5.digest("hex"),
    };
  }

  #closeChunk(): void {
    const index = this.#chunks.length;
    this.#chunks.push({
      index,
      offset: index * this.#chunkSize,
      length: this.#chunkFill,
      sha256: this.#chunk.digest("hex"),
    });
    this.#chunk = createHash("sha256");
    this.#chunkFill = 0;
  }
}

/** A hash check of what flowed against what a cloud reports; undefined when they agree. */
export function hashMismatch(
  manifest: Manifest,
  reported: {
    cloud: string;
    image: string;
    size: number | undefined;
    algo: string | undefined;
    value: string | undefined;
    md5: string | undefined;
  },
): string | undefined {
  const where = `cloud '${reported.cloud}' image ${reported.image}`;
  if (reported.size !== undefined && reported.size !== manifest.size) {
    return `${where}: size ${reported.size} but ${manifest.size} bytes flowed`;
  }
  if (
    reported.value !== undefined &&
    reported.algo === manifest.cloudHashAlgo &&
    reported.value !== manifest.cloudHashValue
  ) {
    return `${where}: os_hash_value (${reported.algo}) ${reported.value.slice(0, 16)}... but what flowed hashes to ${manifest.cloudHashValue.slice(0, 16)}...`;
  }
  if (
    reported.value !== undefined &&
    reported.algo !== manifest.cloudHashAlgo &&
    reported.md5 === undefined
  ) {
    return `${where}: reports a ${reported.algo} hash, which this transfer did not compute`;
  }
  if (reported.md5 !== undefined && reported.md5 !== manifest.md5) {
    return `${where}: checksum (md5) ${reported.md5} but what flowed hashes to ${manifest.md5}`;
  }
  return undefined;
}
