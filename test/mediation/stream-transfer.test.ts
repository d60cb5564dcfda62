import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MemoryCloud } from "../../bench/support/memory-cloud.ts";
import type { CloudDriver, ImageBody } from "../../mediation/clouds/cloud-driver.ts";
import { streamTransfer } from "../../mediation/transfer/stream-transfer.ts";

const MiB = 1 << 20;
const CHUNK = 4 * MiB;

/** Source bytes as a socket gives them: `read`-sized pieces; the first response breaks after `breakAt` bytes. */
function chopped(source: MemoryCloud, read: number, breakAt?: number): CloudDriver & { starts: number[] } {
  const starts: number[] = [];
  const downloadImage = async (imageId: string, start: number): Promise<ImageBody> => {
    starts.push(start);
    const whole = await source.downloadImage(imageId, start);
    const bytes = Buffer.concat(await whole.stream.toArray());
    const cut = starts.length === 1 && breakAt !== undefined ? breakAt : bytes.length;
    async function* pieces() {
      for (let at = 0; at < cut; at += read) yield bytes.subarray(at, Math.min(at + read, cut));
      if (cut < bytes.length) throw new Error("connection reset by peer");
    }
    return { stream: Readable.from(pieces(), { objectMode: false }), length: bytes.length, start };
  };
  return Object.assign(Object.create(source) as CloudDriver, { downloadImage, starts });
}

async function move(read: number, breakAt?: number) {
  const a = new MemoryCloud("a", "192.0.2");
  const b = new MemoryCloud("b", "198.51.100");
  a.addServer("vm", 21 * MiB + 12345);
  const image = (await a.getImage((await a.findServer("vm"))!.imageId!))!;
  const bytes = Buffer.concat(await (await a.downloadImage(image.id, 0)).stream.toArray());
  const source = chopped(a, read, breakAt);
  const result = await streamTransfer({
    source,
    sourceImage: image,
    target: b,
    chunkSize: CHUNK,
    newTargetImage: () => b.createImage({ name: "copy", diskFormat: "raw", containerFormat: "bare" }),
    discardTargetImage: (id) => b.deleteImage(id),
  });
  return { result, bytes, starts: source.starts, target: await b.getImage(result.targetImageId) };
}

describe("streamTransfer (clouds in memory, the stream and the hashing worker real)", () => {
  it("moves every byte in 64 KiB reads, with a SHA-256 per chunk and the whole image's sha512 both clouds agree on", async () => {
    const { result, bytes, target } = await move(64 << 10);
    expect(result.manifest.size).toBe(bytes.length);
    expect(result.manifest.chunks.map((c) => c.sha256)).toEqual(
      Array.from({ length: Math.ceil(bytes.length / CHUNK) }, (_, i) =>
        createHash("sha256")
          .update(bytes.subarray(i * CHUNK, (i + 1) * CHUNK))
          .digest("hex"),
      ),
    );
    expect(result.manifest.imageHash).toEqual({
      algo: "sha512",
      value: createHash("sha512").update(bytes).digest("hex"),
    });
    expect(target?.hashValue).toBe(result.manifest.imageHash.value);
  });

  it("resumes a broken download from the last byte passed on, without breaking the upload", async () => {
    const breakAt = 5 * MiB + 777;
    const { result, bytes, starts, target } = await move(64 << 10, breakAt);
    expect(starts).toEqual([0, breakAt]);
    expect(result.downloadResumes).toBe(1);
    expect(result.uploadAttempts).toBe(1);
    expect(target?.size).toBe(bytes.length);
    expect(target?.hashValue).toBe(createHash("sha512").update(bytes).digest("hex"));
  });

  it("waits for the hashing worker when a read is larger than its ring (8 MiB), and resumes after such a read", async () => {
    const breakAt = 12 * MiB;
    const { result, bytes, starts, target } = await move(12 * MiB, breakAt);
    expect(starts).toEqual([0, breakAt]);
    expect(result.manifest.size).toBe(bytes.length);
    expect(target?.hashValue).toBe(createHash("sha512").update(bytes).digest("hex"));
  });
});
