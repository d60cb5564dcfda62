import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageInfo } from "../../mediation/clouds/cloud-driver.ts";
import { MediationError } from "../../mediation/errors.ts";
import { streamTransfer, type TransferRequest } from "../../mediation/transfer/stream-transfer.ts";
import { labCloudsFile, labDriver } from "./support/clouds.ts";
import { FaultProxy } from "./support/fault-proxy.ts";

const cloudsFile = labCloudsFile();
const CHUNK = 1 << 20;

/**
 * A qcow2 disk of random data (cloud b's Glance takes qcow2 only, cloud a's takes it too: the
 * image goes as it is; conversion is convert-transfer.openstack.test.ts's).
 */
function qcow2Disk(bytes: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-stream-test-"));
  try {
    writeFileSync(join(dir, "d.raw"), randomBytes(bytes));
    execFileSync("qemu-img", [
      "convert",
      "-f",
      "raw",
      "-O",
      "qcow2",
      join(dir, "d.raw"),
      join(dir, "d.qcow2"),
    ]);
    return readFileSync(join(dir, "d.qcow2"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!cloudsFile)("streamed image transfer between two real Glances", () => {
  const source = cloudsFile ? labDriver("lab-a") : undefined!;
  const target = cloudsFile ? labDriver("lab-b") : undefined!;
  const data = cloudsFile ? qcow2Disk(12 * CHUNK + 12345) : Buffer.alloc(0);
  const SIZE = data.length;
  const CHUNKS = Math.ceil(SIZE / CHUNK);
  const created: string[] = [];
  let image: ImageInfo;
  let sourceProxy: FaultProxy;
  let targetProxy: FaultProxy;

  beforeAll(async () => {
    const id = await source.createImage({
      name: "icsdn-test-transfer",
      diskFormat: "qcow2",
      containerFormat: "bare",
      properties: {},
    });
    await source.uploadImage(id, Readable.from([data]));
    image = (await source.getImage(id))!;
    sourceProxy = await FaultProxy.start(await endpointOf("lab-a"));
    targetProxy = await FaultProxy.start(await endpointOf("lab-b"));
  });

  afterAll(async () => {
    await Promise.all(created.map((id) => target.deleteImage(id)));
    if (image) await source.deleteImage(image.id);
    await sourceProxy?.close();
    await targetProxy?.close();
  });

  /** The Glance a proxy must front: the cloud's catalog entry. */
  function endpointOf(cloud: "lab-a" | "lab-b"): Promise<string> {
    return labDriver(cloud).endpoint("image");
  }

  function request(
    over: Partial<TransferRequest> = {},
  ): TransferRequest & { images: string[]; discarded: string[] } {
    const images: string[] = [];
    const discarded: string[] = [];
    const t = over.target ?? target;
    return {
      source,
      sourceImage: image,
      target: t,
      chunkSize: CHUNK,
      newTargetImage: async (attempt) => {
        const id = await t.createImage({
          name: `icsdn-test-copy-${attempt}`,
          diskFormat: "qcow2",
          containerFormat: "bare",
          properties: {},
        });
        images.push(id);
        created.push(id);
        return id;
      },
      discardTargetImage: async (id) => {
        await t.deleteImage(id);
        discarded.push(id);
      },
      ...over,
      images,
      discarded,
    };
  }

  it("streams the image, hashes every chunk and matches both clouds' hashes", async () => {
    const req = request();
    const result = await streamTransfer(req);
    expect(result.manifest.size).toBe(SIZE);
    expect(result.manifest.chunks).toHaveLength(CHUNKS);
    expect(result.manifest.chunks[1]).toEqual({
      index: 1,
      offset: CHUNK,
      length: CHUNK,
      sha256: createHash("sha256")
        .update(data.subarray(CHUNK, 2 * CHUNK))
        .digest("hex"),
    });
    expect(result.manifest.chunks[CHUNKS - 1]!.length).toBe(SIZE - (CHUNKS - 1) * CHUNK);
    expect(result.manifest.imageHash).toEqual({
      algo: "sha512",
      value: createHash("sha512").update(data).digest("hex"),
    });
    expect(result.manifest.imageHash.value).toBe(image.hashValue);
    const copy = await target.getImage(result.targetImageId);
    expect(copy?.status).toBe("active");
    expect(copy?.hashValue).toBe(image.hashValue);
    expect(result.uploadAttempts).toBe(1);
    expect(result.downloadResumes).toBe(0);
  });

  it("resumes a broken download with a Range from the last hashed byte, without breaking the upload", async () => {
    sourceProxy.faults = { cutDownloadAfter: 5 * CHUNK + 777 };
    sourceProxy.ranges.length = 0;
    const result = await streamTransfer(request({ source: labDriver("lab-a", { image: sourceProxy.url }) }));
    expect(result.downloadResumes).toBe(1);
    expect(result.uploadAttempts).toBe(1);
    expect(sourceProxy.ranges).toEqual([undefined, `bytes=${5 * CHUNK + 777}-`]);
    expect(result.manifest.imageHash.value).toBe(createHash("sha512").update(data).digest("hex"));
    expect((await target.getImage(result.targetImageId))?.hashValue).toBe(image.hashValue);
  });

  it("fails on a byte corrupted in flight, naming the mismatch, and deletes the target image", async () => {
    sourceProxy.faults = { corruptDownloadAt: 3 * CHUNK + 5 };
    const req = request({ source: labDriver("lab-a", { image: sourceProxy.url }) });
    const err = await streamTransfer(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediationError);
    expect((err as MediationError).code).toBe("HASH_MISMATCH");
    expect((err as MediationError).message).toMatch(
      new RegExp(`cloud 'lab-a' image ${image.id}: os_hash_value`),
    );
    expect(req.discarded).toEqual(req.images);
    expect(await target.imageExists(req.images[0]!)).toBe(false);
  });

  it("stops mid-transfer when cancelled, deleting the half-written target image", async () => {
    const abort = new AbortController();
    const req = request({
      signal: abort.signal,
      onProgress: (p) => {
        if (p.downloaded > 3 * CHUNK) abort.abort();
      },
    });
    const err = await streamTransfer(req).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("CANCELLED");
    expect(req.images).toHaveLength(1);
    expect(req.discarded).toEqual(req.images);
    expect(await target.imageExists(req.images[0]!)).toBe(false);
  });

  it("retries a failed upload from the start with a new target image, and gives up after the last attempt", async () => {
    targetProxy.faults = { failUploadAfter: { bytes: 4 * CHUNK, times: 1 } };
    const viaProxy = labDriver("lab-b", { image: targetProxy.url });
    const seen: number[] = [];
    const req = request({ target: viaProxy, onProgress: (p) => seen.push(p.uploadAttempt) });
    const result = await streamTransfer(req);
    expect(result.uploadAttempts).toBe(2);
    expect(new Set(seen)).toEqual(new Set([1, 2]));
    expect(req.discarded).toEqual([req.images[0]]);
    expect(await target.imageExists(req.images[0]!)).toBe(false);
    expect((await target.getImage(result.targetImageId))?.hashValue).toBe(image.hashValue);

    targetProxy.faults = { failUploadAfter: { bytes: CHUNK, times: 2 } };
    const failing = request({ target: viaProxy, maxUploadAttempts: 2 });
    const err = await streamTransfer(failing).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("CLOUD_API");
    expect((err as MediationError).message).toMatch(/upload to cloud 'lab-b' failed 2 times/);
    expect(failing.discarded).toEqual(failing.images);
  });
});
