import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import type { CloudDriver, ImageInfo } from "../../mediation/clouds/cloud-driver.ts";
import { MediationError } from "../../mediation/errors.ts";
import { type ImageTransferRequest, transferImage } from "../../mediation/transfer/convert-transfer.ts";
import { ensureFreeSpace, withStagingDir } from "../../mediation/transfer/staging.ts";
import { requirePart } from "../support/parts.ts";

const MiB = 1 << 20;
const work = mkdtempSync(join(tmpdir(), "icsdn-convert-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The conversion's shell with real qemu-img and nbdkit; the two clouds are files here (the
 * OpenStack test, convert-transfer.openstack.test.ts, moves images between the lab's Glances).
 */
interface SourceFaults {
  /** The first GET that starts before this offset ends there with an error. */
  cutOnceAt?: number;
  /** This byte is flipped in every GET that starts after `from` (not in one from the start). */
  corrupt?: { at: number; from: number };
}

function fileSource(file: string, format: string, faults: SourceFaults = {}) {
  const bytes = readFileSync(file);
  const ranges: number[] = [];
  const image: ImageInfo = {
    id: "img-src",
    name: "src",
    status: "active",
    size: bytes.length,
    diskFormat: format,
    containerFormat: "bare",
    hashAlgo: "sha512",
    hashValue: createHash("sha512").update(bytes).digest("hex"),
    checksum: undefined,
  };
  const driver: Pick<CloudDriver, "name" | "downloadImage"> = {
    name: "files-a",
    downloadImage: async (_id, start) => {
      ranges.push(start);
      const cut = faults.cutOnceAt;
      if (cut !== undefined && start < cut) {
        faults.cutOnceAt = undefined;
        const part = Readable.from(
          (async function* () {
            yield bytes.subarray(start, cut);
            throw new Error("connection reset");
          })(),
        );
        return { stream: part, length: bytes.length - start, start };
      }
      const flip = faults.corrupt;
      if (flip && start > flip.from && start <= flip.at) {
        const copy = Buffer.from(bytes.subarray(start));
        copy[flip.at - start]! ^= 0xff;
        return { stream: Readable.from([copy]), length: copy.length, start };
      }
      return { stream: createReadStream(file, { start }), length: bytes.length - start, start };
    },
  };
  return { driver: driver as CloudDriver, image, ranges };
}

function fileTarget(accepted: readonly string[]) {
  const images = new Map<string, { format: string; data: Buffer | undefined }>();
  const driver: Pick<
    CloudDriver,
    "name" | "acceptedDiskFormats" | "createImage" | "uploadImage" | "getImage" | "deleteImage"
  > = {
    name: "files-b",
    acceptedDiskFormats: async () => accepted,
    createImage: async (meta) => {
      const id = `img-${images.size + 1}`;
      images.set(id, { format: meta.diskFormat, data: undefined });
      return id;
    },
    uploadImage: async (id, body) => {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c as Buffer);
      images.get(id)!.data = Buffer.concat(parts);
    },
    getImage: async (id) => {
      const i = images.get(id);
      if (!i?.data) return undefined;
      return {
        id,
        name: id,
        status: "active",
        size: i.data.length,
        diskFormat: i.format,
        containerFormat: "bare",
        hashAlgo: "sha512",
        hashValue: createHash("sha512").update(i.data).digest("hex"),
        checksum: undefined,
      };
    },
    deleteImage: async (id) => {
      images.delete(id);
    },
  };
  return { driver: driver as CloudDriver, images };
}

function disk(name: string): string {
  const file = join(work, name);
  writeFileSync(file, Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(4 * MiB), randomBytes(MiB + 777)]));
  return file;
}

function request(
  source: ReturnType<typeof fileSource>,
  target: ReturnType<typeof fileTarget>,
  staging: string,
  over: Partial<ImageTransferRequest> = {},
): ImageTransferRequest {
  return {
    source: source.driver,
    sourceImage: source.image,
    target: target.driver,
    chunkSize: MiB,
    stagingDir: staging,
    newTargetImage: (_attempt, diskFormat) =>
      target.driver.createImage({ name: "copy", diskFormat, containerFormat: "bare", properties: {} }),
    discardTargetImage: (id) => target.driver.deleteImage(id),
    ...over,
  };
}

const stagingDir = (name: string) => {
  const d = join(work, name);
  mkdirSync(d);
  return d;
};

/** Processes whose command line names `path` (nbdkit and qemu-img name the staging directory). */
const processesUsing = (path: string) =>
  spawnSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter((l) => l.includes(path) && !l.startsWith("ps "));

describe.skipIf(!requirePart("qemu-convert"))("format conversion over nbdkit and qemu-img", () => {
  it("converts raw -> qcow2: the same guest disk, the manifest and hash of the qcow2 bytes sent", async () => {
    const raw = disk("a.raw");
    const source = fileSource(raw, "raw");
    const target = fileTarget(["qcow2"]);
    const staging = stagingDir("s1");
    const result = await transferImage(request(source, target, staging));
    const copy = target.images.get(result.targetImageId)!;
    expect(copy.format).toBe("qcow2");
    expect(result.manifest.size).toBe(copy.data!.length);
    expect(result.manifest.imageHash.value).toBe(createHash("sha512").update(copy.data!).digest("hex"));
    expect(result.conversion).toMatchObject({ from: "raw", to: "qcow2", staged: true });
    expect(result.conversion!.stagedBytes).toBe(copy.data!.length);
    // Read in order by qemu-img (hashed as it passed), over one GET.
    expect(result.conversion!.sourceReads).toMatchObject({ inOrderBytes: source.image.size, tailBytes: 0 });
    expect(source.ranges).toEqual([0]);
    writeFileSync(join(work, "a.qcow2"), copy.data!);
    execFileSync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, join(work, "a.qcow2")]);
    expect(readdirSync(staging)).toEqual([]);
  });

  it("converts qcow2 -> raw, hashing the whole source even where qemu-img read out of order", async () => {
    const qcow2 = join(work, "b.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", disk("b.raw"), qcow2]);
    const source = fileSource(qcow2, "qcow2");
    const target = fileTarget(["raw"]);
    const staging = stagingDir("s2");
    const result = await transferImage(request(source, target, staging));
    const reads = result.conversion!.sourceReads;
    expect(reads.inOrderBytes + reads.tailBytes).toBe(source.image.size);
    writeFileSync(join(work, "b.copy.raw"), target.images.get(result.targetImageId)!.data!);
    execFileSync("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", qcow2, join(work, "b.copy.raw")]);
    expect(readdirSync(staging)).toEqual([]);
  });

  it("fails a byte corrupted in a read qemu-img made out of order, though the in-order hash is right", async () => {
    // qemu-img reads the qcow2's header from byte 0, then its tables and clusters further on; the
    // in-order hash reads on from the header's end (a GET from byte 121): only qemu-img's are corrupt.
    const source = fileSource(join(work, "b.qcow2"), "qcow2", { corrupt: { at: 2 * MiB + 3, from: 1024 } });
    const target = fileTarget(["raw"]);
    const err = await transferImage(request(source, target, stagingDir("s7"))).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("HASH_MISMATCH");
    expect((err as MediationError).message).toMatch(
      /cloud 'files-a' image img-src: bytes \d+-\d+ read for qemu-img differ from the same bytes read in order/,
    );
    expect(target.images.size).toBe(0);
  });

  it("resumes a source read that breaks with a Range from where it broke", async () => {
    const source = fileSource(disk("c.raw"), "raw", { cutOnceAt: 2 * MiB + 5 });
    const target = fileTarget(["qcow2"]);
    const result = await transferImage(request(source, target, stagingDir("s3")));
    expect(result.downloadResumes).toBe(1);
    expect(source.ranges).toEqual([0, 2 * MiB + 5]);
    expect(result.conversion!.sourceReads.inOrderBytes).toBe(source.image.size);
  });

  it("fails with the source's own error when its download breaks for good, not qemu-img's", async () => {
    const source = fileSource(join(work, "c.raw"), "raw");
    const broken: CloudDriver = {
      ...source.driver,
      downloadImage: async () => {
        throw new MediationError("CLOUD_API", "cloud 'files-a': Glance answered 503");
      },
    };
    const target = fileTarget(["qcow2"]);
    const err = await transferImage(request({ ...source, driver: broken }, target, stagingDir("s8"))).catch(
      (e: unknown) => e,
    );
    expect((err as MediationError).code).toBe("CLOUD_API");
    expect((err as MediationError).message).toMatch(/Glance answered 503/);
    expect(target.images.size).toBe(0);
  });

  it("fails a corrupt qcow2 as CONVERSION_FAILED, creating no target image, staging nothing left", async () => {
    const bytes = readFileSync(join(work, "b.qcow2"));
    bytes.writeBigUInt64BE(0x12345n, 40); // l1_table_offset, not cluster-aligned
    writeFileSync(join(work, "corrupt.qcow2"), bytes);
    const target = fileTarget(["raw"]);
    const staging = stagingDir("s4");
    const err = await transferImage(
      request(fileSource(join(work, "corrupt.qcow2"), "qcow2"), target, staging),
    ).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("CONVERSION_FAILED");
    expect((err as MediationError).message).toMatch(/qemu-img|L1/i);
    expect(target.images.size).toBe(0);
    expect(readdirSync(staging)).toEqual([]);
  });

  it("stops when cancelled mid-conversion: CANCELLED, no process and no staged file left", async () => {
    const big = join(work, "d.raw");
    writeFileSync(big, randomBytes(64 * MiB));
    const source = fileSource(big, "raw");
    const target = fileTarget(["qcow2"]);
    const staging = stagingDir("s5");
    const abort = new AbortController();
    const nbdFolders = () => readdirSync(tmpdir()).filter((f) => f.startsWith("nbdkit"));
    const foldersBefore = nbdFolders();
    const err = await transferImage(
      request(source, target, staging, {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.downloaded > 8 * MiB) abort.abort();
        },
      }),
    ).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("CANCELLED");
    expect(target.images.size).toBe(0);
    expect(readdirSync(staging)).toEqual([]);
    expect(processesUsing(staging)).toEqual([]);
    // nbdkit's socket was in the staging directory: no folder of its own left in the temp directory.
    expect(nbdFolders()).toEqual(foldersBefore);
  });
});

describe("the staging directory", () => {
  it("is removed after use, also when the work fails, and a killed process's leftovers go first", async () => {
    const base = stagingDir("s6");
    const dead = spawnSync("true").pid;
    mkdirSync(join(base, `icsdn-convert-${dead}-left`));
    mkdirSync(join(base, "unrelated"));
    let seen = "";
    await expect(
      withStagingDir(base, async (dir) => {
        seen = dir;
        writeFileSync(join(dir, "x"), "y");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(seen).toMatch(new RegExp(`icsdn-convert-${process.pid}-`));
    expect(readdirSync(base)).toEqual(["unrelated"]);
  });

  it("refuses a conversion that would not fit, naming the directory and the sizes", async () => {
    const err = await ensureFreeSpace(work, 1e15).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("STAGING_SPACE");
    expect((err as MediationError).message).toMatch(
      /needs \d+ MB in the staging directory .* which has \d+ MB free/,
    );
  });
});
