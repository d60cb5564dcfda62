import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManifestBuilder } from "../../mediation/transfer/manifest.ts";
import { OffThreadHasher } from "../../mediation/transfer/off-thread-hasher.ts";

/** `data` cut into pieces of random sizes (up to `max`), as a socket delivers them. */
function pieces(data: Buffer, max: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let at = 0; at < data.length; ) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % max);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe("hashing on a worker thread (OffThreadHasher)", () => {
  it("gives the same manifest as hashing on the event loop, whatever the pieces", async () => {
    // 20 MiB: more than the ring (8 slots of 1 MiB), so the worker hands slots back and they are reused.
    const data = randomBytes(20 * 2 ** 20 + 4321);
    for (const [chunkSize, max] of [
      [1 << 20, 65536],
      [3_000_001, 2_500_000],
      [100_003, 70_000],
    ] as const) {
      const expected = new ManifestBuilder(chunkSize, "sha512", true);
      expected.update(data);
      const hasher = new OffThreadHasher(chunkSize, "sha512", true);
      for (const piece of pieces(Buffer.from(data), max, chunkSize)) {
        await hasher.update(piece);
        // the caller may reuse its buffer at once: the hasher copied it
        piece.fill(0);
      }
      expect(hasher.size).toBe(data.length);
      expect(await hasher.finish()).toEqual(expected.finish());
    }
  });

  it("lends full slots to the upload in order and reuses none the upload still holds, hashed or not", async () => {
    const MiB = 2 ** 20;
    const data = randomBytes(8 * MiB + 1000);
    const hasher = new OffThreadHasher(MiB, "sha512", false, true);
    // Read into the ring as a socket would: the eight slots fill, the last 1000 bytes wait for one.
    for (let at = 0; at < 8 * MiB; ) {
      const space = await hasher.space();
      const n = data.copy(space, 0, at, at + Math.min(space.length, 300_000));
      hasher.wrote(n);
      at += n;
    }
    const lent = [];
    for (let i = 0; i < 8; i++) lent.push((await hasher.nextFilled())!);
    lent.forEach((slot, i) => {
      expect(slot.bytes.equals(data.subarray(i * MiB, (i + 1) * MiB))).toBe(true);
    });
    // The worker is done with all eight long before this; the upload holds them all.
    let gotSpace = false;
    const space = hasher.space().then((s) => {
      gotSpace = true;
      return s;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gotSpace).toBe(false);
    lent[3]!.release();
    const rest = await space;
    hasher.wrote(data.copy(rest, 0, 8 * MiB));
    hasher.end();
    const last = (await hasher.nextFilled())!;
    expect(last.bytes.equals(data.subarray(8 * MiB))).toBe(true);
    // Slot 3 was reused for the last bytes; the others still hold what they were lent with.
    expect(lent[5]!.bytes.equals(data.subarray(5 * MiB, 6 * MiB))).toBe(true);
    expect(await hasher.nextFilled()).toBeUndefined();
    for (const slot of [...lent, last]) slot.release();
    const expected = new ManifestBuilder(MiB, "sha512");
    expected.update(data);
    expect(await hasher.finish()).toEqual(expected.finish());
  });

  it("hashes nothing into an empty manifest", async () => {
    const hasher = new OffThreadHasher(1 << 20, "sha256");
    expect(await hasher.finish()).toEqual({
      chunkSize: 1 << 20,
      size: 0,
      chunks: [],
      imageHash: { algo: "sha256", value: createHash("sha256").digest("hex") },
      md5: undefined,
    });
  });

  it("refuses an unknown algorithm or chunk size at once, before starting a worker", () => {
    expect(() => new OffThreadHasher(1 << 20, "sha-does-not-exist")).toThrow(/Digest method not supported/);
    expect(() => new OffThreadHasher(0, "sha512")).toThrow(RangeError);
  });

  it("stops when closed mid-stream: later updates fail instead of hanging", async () => {
    const hasher = new OffThreadHasher(1 << 20, "sha512");
    await hasher.update(randomBytes(3 << 20));
    await hasher.close();
    await hasher.close();
    await expect(hasher.update(randomBytes(9 << 20))).rejects.toThrow(/closed/);
  });
});
