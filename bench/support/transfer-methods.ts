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

export async function measureTransfer(
  a: OpenStackDriver,
  b: OpenStackDriver,
  sourceId: string,
  o: { label: string; regenerate: () => Readable; dir: string; tokens: () => Promise<[string, string]> },
): Promise<TransferTimes> {
  const image = (await a.getImage(sourceId))!;
  const scratch = () =>
    b.createImage({
      name: `bench-copy-${o.label}`,
      diskFormat: image.diskFormat ?? "raw",
      containerFormat: "bare",
      properties: {},
    });
  const d = await timed(async () => {
    for await (const _ of (await a.downloadImage(sourceId, 0)).stream) {
      // bytes only
    }
  });
  const uploadOnly = await scratch();
  const u = await timed(() => b.uploadImage(uploadOnly, o.regenerate()));
  await b.deleteImage(uploadOnly);
  const stagedId = await scratch();
  const file = join(o.dir, "staged.img");
  const staged = await timed(async () => {
    await pipeline((await a.downloadImage(sourceId, 0)).stream, createWriteStream(file));
    await b.uploadImage(stagedId, createReadStream(file));
  });
  rmSync(file);
  await b.deleteImage(stagedId);
  let streamedId = "";
  const streamed = await timed(async () => {
    const r = await streamTransfer({
      source: a,
      sourceImage: image,
      target: b,
      chunkSize: DEFAULT_CHUNK_SIZE,
      newTargetImage: scratch,
      discardTargetImage: (id) => b.deleteImage(id),
    });
    streamedId = r.targetImageId;
  });
  await b.deleteImage(streamedId);
  const rawId = await scratch();
  const [ta, tb] = await o.tokens();
  const [ga, gb] = [await a.endpoint("image"), await b.endpoint("image")];
  const raw = await timed(() =>
    execa(
      "bash",
      [
        "-c",
        'set -o pipefail; curl -sf -H "X-Auth-Token: $TA" "$GA/v2/images/$SRC/file" | curl -sf -X PUT -H "X-Auth-Token: $TB" -H "Content-Type: application/octet-stream" -T - "$GB/v2/images/$DST/file"',
      ],
      { env: { TA: ta, TB: tb, GA: ga, GB: gb, SRC: sourceId, DST: rawId } },
    ),
  );
  await b.deleteImage(rawId);
  return { d, u, staged, streamed, raw };
}
