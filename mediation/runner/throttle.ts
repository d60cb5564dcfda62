import { Transform, type TransformCallback } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { CloudDriver, ImageBody } from "../clouds/cloud-driver.ts";
import type { TokenBucket } from "../model/token-bucket.ts";

/** Paces a byte stream through a shared token bucket (pieces no larger than its burst). */
export function pacedStream(bucket: TokenBucket): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      (async () => {
        for (let at = 0; at < chunk.length; at += bucket.burst) {
          const piece = chunk.subarray(at, at + bucket.burst);
          const waitMs = bucket.reserve(piece.length, performance.now());
          if (waitMs > 0) await sleep(waitMs);
          this.push(piece);
        }
      })().then(() => done(), done);
    },
  });
}

/**
 * The same cloud driver with its image downloads paced by a bucket that every transfer of one
 * cluster migration shares (the upload follows the download's pace: the stream has backpressure).
 */
export function withDownloadCap(driver: CloudDriver, bucket: TokenBucket): CloudDriver {
  return new Proxy(driver, {
    get(target, prop) {
      if (prop === "downloadImage") {
        return async (imageId: string, start: number): Promise<ImageBody> => {
          const body = await target.downloadImage(imageId, start);
          const paced = pacedStream(bucket);
          body.stream.on("error", (err) => paced.destroy(err));
          paced.on("close", () => {
            if (!body.stream.destroyed) body.stream.destroy();
          });
          // Not `readInto`: the paced stream is the only way to the bytes.
          return { stream: body.stream.pipe(paced), length: body.length, start: body.start };
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
