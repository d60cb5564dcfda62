import { createHash, type Hash } from "node:crypto";

/** One fixed-size piece of the image and its SHA-256. */
export interface ManifestChunk {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  readonly sha256: string;
}

/** What flowed: every chunk's SHA-256 and the whole image's hash in the clouds' own algorithm. */
export interface Manifest {
  readonly chunkSize: number;
  readonly size: number;
  readonly chunks: readonly ManifestChunk[];
  /** The whole image in the source Glance's os_hash_algo (sha512 by default), so both clouds' values compare. */
  readonly imageHash: { readonly algo: string; readonly value: string };
  /** Only when the source has no multihash: its legacy `checksum`. */
  readonly md5: string | undefined;
}

export const DEFAULT_CHUNK_SIZE = 8 << 20;

/**
 * Hashes a byte stream as it passes: a SHA-256 per `chunkSize` piece and the whole stream in the
 * cloud's algorithm (two passes over each byte; MD5 a third only when asked). Feed it in order;
 * `finish()` once at the end.
 */
export class ManifestBuilder {
  readonly #chunkSize: number;
  readonly #chunks: ManifestChunk[] = [];
  readonly #whole: Hash;
  readonly #md5: Hash | undefined;
  readonly #algo: string;
  #chunk = createHash("sha256");
  #chunkFill = 0;
  #size = 0;

  constructor(chunkSize: number, imageHashAlgo: string, withMd5 = false) {
    if (!(chunkSize > 0)) throw new RangeError("chunkSize must be positive");
    this.#chunkSize = chunkSize;
    this.#algo = imageHashAlgo;
    this.#whole = createHash(imageHashAlgo);
    this.#md5 = withMd5 ? createHash("md5") : undefined;
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
    this.#md5?.update(data);
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
    return {
      chunkSize: this.#chunkSize,
      size: this.#size,
      chunks: this.#chunks,
      imageHash: { algo: this.#algo, value: this.#whole.digest("hex") },
      md5: this.#md5?.digest("hex"),
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
  const mine = manifest.imageHash;
  // A cloud that reports no hash at all (a snapshot some virt drivers write without one) has nothing to compare.
  if (reported.value === undefined && reported.md5 === undefined) return undefined;
  if (reported.size !== undefined && reported.size !== manifest.size) {
    return `${where}: size ${reported.size} but ${manifest.size} bytes flowed`;
  }
  if (reported.value !== undefined && reported.algo === mine.algo) {
    return reported.value === mine.value
      ? undefined
      : `${where}: os_hash_value (${mine.algo}) ${reported.value.slice(0, 16)}... but what flowed hashes to ${mine.value.slice(0, 16)}...`;
  }
  if (manifest.md5 !== undefined && reported.md5 !== undefined) {
    return reported.md5 === manifest.md5
      ? undefined
      : `${where}: checksum (md5) ${reported.md5} but what flowed hashes to ${manifest.md5}`;
  }
  return `${where}: reports no ${mine.algo} hash to compare what flowed with`;
}
