import type { CloudDriver, ImageBody, ImageInfo } from "../clouds/cloud-driver.ts";
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
 * Range from the last byte taken when it breaks) and one PUT, nothing staged. The bytes land once,
 * in the hasher's ring of shared 1 MiB slots (read straight into them when the source driver can:
 * `readInto`); each full slot is hashed on a worker thread (SHA-256 per chunk and the whole image
 * in the cloud's algorithm; MD5 only for a source without one) and sent by the upload from where
 * it is, and is reused when both are done with it: the ring is the backpressure both ways. What
 * flowed is compared with what both clouds report. A broken upload starts over with a new target
 * image (Glance cannot resume a PUT); a mismatch deletes the target image and fails.
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
      true,
    );
    const imageId = await req.newTargetImage(attempt).catch(async (err: unknown) => {
      await hasher.close();
      throw err;
    });
    const state: DownloadState = { resumes: 0, downloadMs: 0, failure: undefined, part: undefined };
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
    const abort = () =>
      hasher.fail(new MediationError("CANCELLED", "the migration was cancelled during the transfer"));
    req.signal?.addEventListener("abort", abort, { once: true });
    const download = downloadInto(req, hasher, state, report);
    // Settled below in every case; until then a rejection is not unhandled.
    download.catch(() => undefined);
    try {
      await req.target.uploadImage(imageId, lentSlots(hasher));
      await download;
    } catch (err) {
      // Not worth another upload: the download gave up, or the worker failed.
      const failure = state.failure ?? hasher.workerFailure;
      await hasher.close();
      state.part?.stream.destroy();
      await download.catch(() => undefined);
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

interface DownloadState {
  resumes: number;
  downloadMs: number;
  /** Why the download gave up (not worth another upload attempt). */
  failure: Error | undefined;
  /** The response being read, dropped when the upload fails. */
  part: ImageBody | undefined;
}

/** The upload's body: the ring's full slots in order, each given back when the next is asked for. */
async function* lentSlots(hasher: OffThreadHasher): AsyncGenerator<Buffer> {
  let complete = false;
  try {
    for (;;) {
      const slot = await hasher.nextFilled();
      if (!slot) break;
      try {
        yield slot.bytes;
      } finally {
        slot.release();
      }
    }
    complete = true;
  } finally {
    // An upload that stops taking bytes early must not leave the download waiting for slots.
    if (!complete) hasher.fail(new Error("the upload stopped taking the image's bytes"));
  }
}

/** Source bytes into the hasher's ring, resumed from the last byte taken when the download breaks. */
async function downloadInto(
  req: TransferRequest,
  hasher: OffThreadHasher,
  state: DownloadState,
  report: () => void,
): Promise<void> {
  const started = performance.now();
  const maxResumes = req.maxDownloadResumes ?? 5;
  const total = req.sourceImage.size;
  for (;;) {
    // Resume from the last byte in the ring: nothing twice, nothing lost.
    const from = hasher.size;
    try {
      const part = await req.source.downloadImage(req.sourceImage.id, from);
      state.part = part;
      try {
        await readAll(part, hasher, report);
      } finally {
        state.part = undefined;
        part.stream.destroy();
      }
      if (total === undefined || hasher.size >= total) break;
      throw new Error(`the download ended at byte ${hasher.size} of ${total}`);
    } catch (err) {
      // Stopped from elsewhere (the upload, a cancel, the worker): the caller sorts it out.
      if (hasher.failure) throw hasher.failure;
      if (req.signal?.aborted) throw err;
      if (state.resumes >= maxResumes) {
        state.failure = new MediationError(
          "CLOUD_API",
          `download from cloud '${req.source.name}' broke ${state.resumes + 1} times; last at byte ${hasher.size}: ${(err as Error).message}`,
          { cause: err },
        );
        // Kept in state too: the upload fails with it, and the caller must not retry the upload for it.
        hasher.fail(state.failure);
        throw state.failure;
      }
      state.resumes++;
    }
  }
  hasher.end();
  state.downloadMs = performance.now() - started;
}

/** One response's bytes into the ring: read into it when the driver can, else copied from the stream. */
async function readAll(part: ImageBody, hasher: OffThreadHasher, report: () => void): Promise<void> {
  const readInto = part.readInto;
  if (!readInto) {
    for await (const chunk of part.stream as AsyncIterable<Buffer>) {
      await hasher.update(chunk);
      report();
    }
    return;
  }
  for (;;) {
    const n = await readInto(await hasher.space());
    if (n === 0) return;
    hasher.wrote(n);
    report();
  }
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
