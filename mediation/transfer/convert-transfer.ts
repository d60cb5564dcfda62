import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { CloudDriver, ImageInfo } from "../clouds/cloud-driver.ts";
import { MediationError } from "../errors.ts";
import { type FormatPlan, planImageFormat } from "./format-plan.ts";
import { hashMismatch, ManifestBuilder } from "./manifest.ts";
import { converterAvailable, convertToFile, virtualSize } from "./qemu-convert.ts";
import { SourceRangeServer, type SourceReadStats } from "./source-range-server.ts";
import { defaultStagingDir, ensureFreeSpace, withStagingDir } from "./staging.ts";
import {
  streamTransfer,
  type TransferRequest,
  type TransferResult,
  verifyTargetImage,
} from "./stream-transfer.ts";

export interface ImageTransferRequest extends Omit<TransferRequest, "newTargetImage"> {
  /** Creates the target image in `diskFormat` (the caller journals it first). */
  readonly newTargetImage: (attempt: number, diskFormat: string) => Promise<string>;
  /** Where a conversion stages its output; default: `ICSDN_MEDIATION_STAGING_DIR` or the temp dir. */
  readonly stagingDir?: string;
}

/** What a conversion did, for the migration's events. */
export interface ConversionReport {
  readonly from: string;
  readonly to: string;
  /** The source is read at random through nbdkit (never staged); qemu-img's output is staged. */
  readonly staged: true;
  readonly stagedBytes: number;
  /** nbdkit + qemu-img, from the first read to the converted file. */
  readonly seconds: number;
  readonly sourceReads: SourceReadStats;
}

export interface ImageTransferResult extends TransferResult {
  /** Absent when the image went as it was (one stream, nothing staged). */
  readonly conversion: ConversionReport | undefined;
}

/**
 * Moves the image into the target in a disk format the target accepts: as it is (streamTransfer)
 * when it can, else converted by qemu-img. A conversion reads the source through nbdkit over
 * Glance's Range support (nothing of the source staged; the source's hash is checked on the bytes
 * read), writes the converted image to a staging file (qcow2 output needs random access; qemu-img
 * cannot write a pipe), and uploads that file, its hash and manifest being the converted bytes.
 */
export async function transferImage(req: ImageTransferRequest): Promise<ImageTransferResult> {
  const plan = await planTargetFormat(req.sourceImage, req.target);
  switch (plan.kind) {
    case "as_is": {
      const format = plan.format;
      const result = await streamTransfer({ ...req, newTargetImage: (a) => req.newTargetImage(a, format) });
      return { ...result, conversion: undefined };
    }
    case "refused":
      throw new MediationError(
        "IMAGE_FORMAT",
        `cloud '${req.target.name}' cannot take image ${req.sourceImage.id}: ${plan.reason}`,
        { details: { sourceFormat: req.sourceImage.diskFormat ?? "raw" } },
      );
    case "convert":
      return convertTransfer(req, plan.from, plan.to);
  }
}

/**
 * How an image of these formats goes into `target`: as it is, converted, or refused. The migration
 * asks it of the snapshot; the pre-check of the image the server booted from (a snapshot keeps
 * its format), so a dry run names a refusal before anything is created.
 */
export async function planTargetFormat(
  image: Pick<ImageInfo, "diskFormat" | "containerFormat">,
  target: Pick<CloudDriver, "acceptedDiskFormats">,
): Promise<FormatPlan> {
  const facts = {
    sourceFormat: image.diskFormat,
    containerFormat: image.containerFormat,
    accepted: await target.acceptedDiskFormats(),
  };
  const plan = planImageFormat({ ...facts, converterAvailable: true });
  // Only a conversion needs the tools: look for them only then.
  if (plan.kind === "convert" && !(await converterAvailable())) {
    return planImageFormat({ ...facts, converterAvailable: false });
  }
  return plan;
}

async function convertTransfer(
  req: ImageTransferRequest,
  from: string,
  to: string,
): Promise<ImageTransferResult> {
  const image = withSize(req.sourceImage, req.source.name);
  return withStagingDir(req.stagingDir ?? defaultStagingDir(), async (dir) => {
    const started = performance.now();
    const sourceHash = new ManifestBuilder(
      req.chunkSize,
      image.hashAlgo ?? "sha512",
      image.hashValue === undefined,
    );
    let read = 0;
    const progress = (uploaded: number, attempt: number) =>
      req.onProgress?.({
        downloaded: read,
        uploaded,
        total: image.size,
        downloadResumes: server.stats.resumes,
        uploadAttempt: attempt,
      });
    const server = await SourceRangeServer.listen(join(dir, "source.sock"), {
      source: req.source,
      image,
      hash: sourceHash,
      maxResumes: req.maxDownloadResumes ?? 5,
      onRead: (n) => {
        read = Math.min(n, image.size);
        progress(0, 1);
      },
    });
    const out = join(dir, `image.${to}`);
    try {
      const nbd = { httpSocket: join(dir, "source.sock"), format: from, dir };
      // Raw output needs the guest's whole size, qcow2 at most that and its metadata.
      await ensureFreeSpace(dir, Math.ceil((await virtualSize(nbd, req.signal)) * 1.01));
      await convertToFile(nbd, to, out, req.signal);
      await server.verifyRest();
    } catch (err) {
      // qemu-img only saw an I/O error; the source cloud's own error says what happened.
      const failure = server.failure;
      if (err instanceof MediationError && err.code === "CONVERSION_FAILED" && failure) throw failure;
      throw err;
    } finally {
      await server.close();
    }
    const mismatch =
      server.mismatch ??
      hashMismatch(sourceHash.finish(), {
        cloud: req.source.name,
        image: image.id,
        size: image.size,
        algo: image.hashAlgo,
        value: image.hashValue,
        md5: image.checksum,
      });
    if (mismatch)
      throw new MediationError("HASH_MISMATCH", `hash mismatch: ${mismatch}; nothing was uploaded`);
    read = image.size;
    const downloadMs = performance.now() - started;
    const stagedBytes = (await stat(out)).size;
    const upload = await uploadFile(req, out, to, (n, attempt) => progress(n, attempt));
    return {
      ...upload,
      downloadMs,
      uploadMs: performance.now() - started,
      downloadResumes: server.stats.resumes,
      conversion: {
        from,
        to,
        staged: true,
        stagedBytes,
        seconds: downloadMs / 1000,
        sourceReads: server.stats,
      },
    };
  });
}

/** Uploads the converted file (retried from its start with a new image), hashing what goes. */
async function uploadFile(
  req: ImageTransferRequest,
  file: string,
  format: string,
  progress: (uploaded: number, attempt: number) => void,
): Promise<Pick<TransferResult, "targetImageId" | "manifest" | "uploadAttempts">> {
  const maxUploads = req.maxUploadAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    req.signal?.throwIfAborted();
    const imageId = await req.newTargetImage(attempt, format);
    const builder = new ManifestBuilder(req.chunkSize, req.sourceImage.hashAlgo ?? "sha512", false);
    const body = Readable.from(
      hashed(file, builder, (n) => progress(n, attempt)),
      { objectMode: false },
    );
    const abort = () =>
      body.destroy(new MediationError("CANCELLED", "the migration was cancelled during the upload"));
    req.signal?.addEventListener("abort", abort, { once: true });
    try {
      await req.target.uploadImage(imageId, body);
    } catch (err) {
      await req.discardTargetImage(imageId);
      if (req.signal?.aborted)
        throw new MediationError("CANCELLED", "the migration was cancelled during the upload");
      if (attempt >= maxUploads) {
        throw new MediationError(
          "CLOUD_API",
          `upload to cloud '${req.target.name}' failed ${attempt} times; last: ${(err as Error).message}`,
          { cause: err },
        );
      }
      continue;
    } finally {
      req.signal?.removeEventListener("abort", abort);
    }
    const manifest = builder.finish();
    await verifyTargetImage(req, imageId, manifest);
    return { targetImageId: imageId, manifest, uploadAttempts: attempt };
  }
}

async function* hashed(file: string, builder: ManifestBuilder, report: (n: number) => void) {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    builder.update(chunk);
    yield chunk;
    report(builder.size);
  }
}

function withSize(image: ImageInfo, cloud: string): ImageInfo & { readonly size: number } {
  if (image.size === undefined) {
    throw new MediationError("CLOUD_API", `cloud '${cloud}' gives no size for image ${image.id}`);
  }
  return { ...image, size: image.size };
}
