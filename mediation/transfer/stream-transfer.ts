import { Readable } from "node:stream";
import type { CloudDriver, ImageInfo } from "../clouds/cloud-driver.ts";
import { MediationError } from "../errors.ts";
import { hashMismatch, type Manifest } from "./manifest.ts";
import { OffThreadHasher } from "./off-thread-hasher.ts";

export interface TransferProgress {
  readonly downloaded: number;
  readonly uploaded: number;
  readonly total: number | undefined;
  readonly downloadResumes: number;
  readonly uploadAttempt: number;
}

export interface TransferRequest {
  readonly source: CloudDriver;
  readonly sourceImage: ImageInfo;
  readonly target: CloudDriver;
  /** Creates the target image (the caller journals it first) for upload attempt `attempt`. */
  readonly newTargetImage: (attempt: number) => Promise<string>;
  /** Deletes a target image (the caller journals it after). */
  readonly discardTargetImage: (imageId: string) => Promise<void>;
  readonly chunkSize: number;
  readonly maxDownloadResumes?: number;
  readonly maxUploadAttempts?: number;
  readonly onProgress?: (p: TransferProgress) => void;
  readonly signal?: AbortSignal;
}

export interface TransferResult {
  readonly targetImageId: string;
  readonly manifest: Manifest;
  readonly downloadMs: number;
  readonly uploadMs: number;
  readonly downloadResumes: number;
  readonly uploadAttempts: number;
}

/**
 * Streams an image source Glance -> target Glance through this process: one GET (resumed with a
 * Range from the last hashed byte when it breaks) piped into one PUT, with backpressure, nothing
 * staged. Every byte is hashed on the way, on a worker thread (SHA-256 per chunk and the whole
 * image in the cloud's algorithm; MD5 only for a source without one) and compared with what both
 * clouds report. A broken upload starts over with a new target image (Glance cannot resume a
 * PUT); a mismatch deletes the target image and fails.
 */
export async function streamTransfer(req: TransferRequest): Promise<TransferResult> {
  const maxUploads = req.maxUploadAttempts ?? 3;
  let resumesTotal = 0;
  for (let attempt = 1; ; attempt++) {
    req.signal?.throwIfAborted();
    const hasher = new OffThreadHasher(
      req.chunkSize,
      req.sourceImage.hashAlgo ?? "sha512",
      req.sourceImage.hashValue === undefined,
    );
    const imageId = await req.newTargetImage(attempt).catch(async (err: unknown) => {
      await hasher.close();
      throw err;
    });
    const state = { resumes: 0, downloadMs: 0, failure: undefined as Error | undefined };
    const started = performance.now();
    const total = req.sourceImage.size;
    const report = () =>
      req.onProgress?.({
        downloaded: hasher.size,
        uploaded: hasher.size,
        total,
        downloadResumes: resumesTotal + state.resumes,
        uploadAttempt: attempt,
      });
    const body = Readable.from(downloadChunks(req, hasher, state, report), { objectMode: false });
    const abort = () =>
      body.destroy(new MediationError("CANCELLED", "the migration was cancelled during the transfer"));
    req.signal?.addEventListener("abort", abort, { once: true });
    try {
      await req.target.uploadImage(imageId, body);
    } catch (err) {
      // Read before close: closing the hasher makes a download still waiting on it fail too.
      const failure = state.failure;
      await hasher.close();
      await req.discardTargetImage(imageId);
      if (req.signal?.aborted)
        throw new MediationError("CANCELLED", "the migration was cancelled during the transfer");
      if (failure) throw failure;
      if (attempt >= maxUploads) {
        throw new MediationError(
          "CLOUD_API",
          `upload to cloud '${req.target.name}' failed ${attempt} times; last: ${(err as Error).message}`,
          { cause: err },
        );
      }
      resumesTotal += state.resumes;
      continue;
    } finally {
      req.signal?.removeEventListener("abort", abort);
    }
    const uploadMs = performance.now() - started;
    const manifest = await hasher.finish().catch(async (err: unknown) => {
      await req.discardTargetImage(imageId);
      throw err;
    });
    const source = req.sourceImage;
    await verifyTargetImage(
      req,
      imageId,
      manifest,
      hashMismatch(manifest, {
        cloud: req.source.name,
        image: source.id,
        size: source.size,
        algo: source.hashAlgo,
        value: source.hashValue,
        md5: source.checksum,
      }),
    );
    return {
      targetImageId: imageId,
      manifest,
      downloadMs: state.downloadMs,
      uploadMs,
      downloadResumes: resumesTotal + state.resumes,
      uploadAttempts: attempt,
    };
  }
}

async function* downloadChunks(
  req: TransferRequest,
  hasher: OffThreadHasher,
  state: { resumes: number; downloadMs: number; failure: Error | undefined },
  report: () => void,
): AsyncGenerator<Buffer> {
  const started = performance.now();
  const maxResumes = req.maxDownloadResumes ?? 5;
  const total = req.sourceImage.size;
  for (;;) {
    // Resume from the last byte that was hashed and handed to the upload: nothing twice, nothing lost.
    const from = hasher.size;
    try {
      const part = await req.source.downloadImage(req.sourceImage.id, from);
      for await (const chunk of part.stream as AsyncIterable<Buffer>) {
        await hasher.update(chunk);
        yield chunk;
        report();
      }
      if (total === undefined || hasher.size >= total) break;
      throw new Error(`the download ended at byte ${hasher.size} of ${total}`);
    } catch (err) {
      if (err instanceof MediationError && err.code === "CANCELLED") throw err;
      if (hasher.failure) {
        state.failure = hasher.failure;
        throw err;
      }
      if (req.signal?.aborted) throw err;
      if (state.resumes >= maxResumes) {
        state.failure = new MediationError(
          "CLOUD_API",
          `download from cloud '${req.source.name}' broke ${state.resumes + 1} times; last at byte ${hasher.size}: ${(err as Error).message}`,
          { cause: err },
        );
        // Kept in state too: the upload fails with it, and the caller must not retry the upload for it.
        throw state.failure;
      }
      state.resumes++;
    }
  }
  state.downloadMs = performance.now() - started;
}

/**
 * The target's size and hash of the uploaded image against what flowed (after `earlier`, a
 * mismatch found already); on a mismatch the target image is deleted and the transfer fails.
 */
export async function verifyTargetImage(
  req: Pick<TransferRequest, "target" | "discardTargetImage">,
  imageId: string,
  manifest: Manifest,
  earlier?: string,
): Promise<void> {
  const target = await req.target.getImage(imageId);
  const mismatch =
    earlier ??
    hashMismatch(manifest, {
      cloud: req.target.name,
      image: imageId,
      size: target?.size,
      algo: target?.hashAlgo,
      value: target?.hashValue ?? "missing",
      md5: target?.checksum,
    });
  if (mismatch) {
    await req.discardTargetImage(imageId);
    throw new MediationError("HASH_MISMATCH", `hash mismatch: ${mismatch}; the target image was deleted`, {
      details: { imageHash: manifest.imageHash, size: manifest.size },
    });
  }
}
