import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { execa } from "execa";
import type { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import { DEFAULT_CHUNK_SIZE } from "../../mediation/transfer/manifest.ts";
import { streamTransfer } from "../../mediation/transfer/stream-transfer.ts";

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Milliseconds of each way to move one image from cloud a's Glance to cloud b's, one after the other. */
export interface TransferTimes {
  /** The download alone (bytes dropped). */
  readonly d: number;
  /** The upload alone (the same bytes regenerated here). */
  readonly u: number;
  /** Download whole to disk, then upload (the paper's method). */
  readonly staged: number;
  /** Ours: one verified stream. */
  readonly streamed: number;
  /** curl GET | curl PUT: the floor. */
  readonly raw: number;
}

/**
 * Each way once, in the order given by `reverse` (a bench alternates it between rounds so that no
 * method always runs first on a warm or cold machine).
 */
export async function measureTransfer(
  a: OpenStackDriver,
  b: OpenStackDriver,
  sourceId: string,
  o: {
    label: string;
    regenerate: () => Readable;
    dir: string;
    tokens: () => Promise<[string, string]>;
    reverse?: boolean;
  },
): Promise<TransferTimes> {
  const image = (await a.getImage(sourceId))!;
  const scratch = () =>
    b.createImage({
      name: `bench-copy-${o.label}`,
      diskFormat: image.diskFormat ?? "raw",
      containerFormat: "bare",
      properties: {},
    });
  /** Times `fn` moving bytes into a new scratch image, then deletes that image (untimed). */
  const intoScratch = async (fn: (id: string) => Promise<void>): Promise<number> => {
    const id = await scratch();
    try {
      return await timed(() => fn(id));
    } finally {
      await b.deleteImage(id);
    }
  };
  const file = join(o.dir, "staged.img");
  const [ga, gb] = [await a.endpoint("image"), await b.endpoint("image")];
  const methods: { [K in keyof TransferTimes]: () => Promise<number> } = {
    d: () =>
      timed(async () => {
        for await (const _ of (await a.downloadImage(sourceId, 0)).stream) {
          // bytes only
        }
      }),
    u: () => intoScratch((id) => b.uploadImage(id, o.regenerate())),
    staged: () =>
      intoScratch(async (id) => {
        await pipeline((await a.downloadImage(sourceId, 0)).stream, createWriteStream(file));
        await b.uploadImage(id, createReadStream(file));
        rmSync(file);
      }),
    // The target image is made before the clock starts, as for the other methods; the stream's
    // own checks (hashes, the target's hash after the upload) are timed: they are part of it.
    streamed: () =>
      intoScratch(async (id) => {
        await streamTransfer({
          source: a,
          sourceImage: image,
          target: b,
          chunkSize: DEFAULT_CHUNK_SIZE,
          newTargetImage: async (attempt) => {
            if (attempt > 1) throw new Error("the stream's upload broke: no figure for this round");
            return id;
          },
          discardTargetImage: async () => undefined,
        });
      }),
    raw: async () => {
      const [ta, tb] = await o.tokens();
      return intoScratch(async (id) => {
        await execa(
          "bash",
          [
            "-c",
            'set -o pipefail; curl -sf -H "X-Auth-Token: $TA" "$GA/v2/images/$SRC/file" | curl -sf -X PUT -H "X-Auth-Token: $TB" -H "Content-Type: application/octet-stream" -T - "$GB/v2/images/$DST/file"',
          ],
          { env: { TA: ta, TB: tb, GA: ga, GB: gb, SRC: sourceId, DST: id } },
        );
      });
    },
  };
  const order = (Object.keys(methods) as (keyof TransferTimes)[])[o.reverse ? "toReversed" : "slice"]();
  const times: Partial<Record<keyof TransferTimes, number>> = {};
  for (const k of order) times[k] = await methods[k]();
  return times as TransferTimes;
}
