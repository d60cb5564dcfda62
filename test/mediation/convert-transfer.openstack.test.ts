import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudDriver, ImageInfo } from "../../mediation/clouds/cloud-driver.ts";
import { loadCloudsFile, resolveCloud } from "../../mediation/clouds/clouds-yaml.ts";
import { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import { MediationError } from "../../mediation/errors.ts";
import { type ImageTransferRequest, transferImage } from "../../mediation/transfer/convert-transfer.ts";
import { requirePart } from "../support/parts.ts";
import { labCloudsEnv, labCloudsFile, labDriver } from "./support/clouds.ts";
import { FaultProxy } from "./support/fault-proxy.ts";

const cloudsFile = labCloudsFile();
const MiB = 1 << 20;

/**
 * The lab's cloud b takes only qcow2 (its Glance's `[image_format] disk_formats`, read from its
 * image schema), cloud a Glance's defaults: a raw image moved a -> b is converted on the way.
 */
describe.skipIf(!cloudsFile || !requirePart("qemu-convert"))("image transfer with format conversion", () => {
  const a = cloudsFile ? labDriver("lab-a") : undefined!;
  const b = cloudsFile ? labDriver("lab-b") : undefined!;
  const work = mkdtempSync(join(tmpdir(), "icsdn-convert-test-"));
  const staging = join(work, "staging");
  const created: { cloud: CloudDriver; id: string }[] = [];
  // A disk with data, a hole and data again, and a size that is no multiple of 512.
  const disk = Buffer.concat([randomBytes(6 * MiB), Buffer.alloc(8 * MiB), randomBytes(3 * MiB + 4321)]);
  const diskFile = join(work, "disk.raw");
  let raw: ImageInfo;

  async function upload(cloud: CloudDriver, name: string, format: string, data: Buffer): Promise<ImageInfo> {
    const id = await cloud.createImage({ name, diskFormat: format, containerFormat: "bare", properties: {} });
    created.push({ cloud, id });
    await cloud.uploadImage(id, Readable.from([data]));
    return (await cloud.getImage(id))!;
  }

  async function save(cloud: CloudDriver, id: string, file: string): Promise<void> {
    await pipeline((await cloud.downloadImage(id, 0)).stream, createWriteStream(file));
  }

  let requests = 0;

  /** A transfer whose target images are named `icsdn-test-converted-<n>-<attempt>`, n counting the requests. */
  function request(over: Partial<ImageTransferRequest> = {}): ImageTransferRequest & { formats: string[] } {
    const formats: string[] = [];
    const n = ++requests;
    const target = over.target ?? b;
    return {
      source: a,
      sourceImage: raw,
      target,
      chunkSize: MiB,
      stagingDir: staging,
      newTargetImage: async (attempt, diskFormat) => {
        formats.push(diskFormat);
        const id = await target.createImage({
          name: `icsdn-test-converted-${n}-${attempt}`,
          diskFormat,
          containerFormat: "bare",
          properties: {},
        });
        created.push({ cloud: target, id });
        return id;
      },
      discardTargetImage: (id) => target.deleteImage(id),
      ...over,
      formats,
    };
  }

  beforeAll(async () => {
    execFileSync("mkdir", ["-p", staging]);
    writeFileSync(diskFile, disk);
    raw = await upload(a, "icsdn-test-convert-raw", "raw", disk);
  });

  afterAll(async () => {
    await Promise.all(created.map(({ cloud, id }) => cloud.deleteImage(id).catch(() => undefined)));
    rmSync(work, { recursive: true, force: true });
  });

  it("learns from cloud b's Glance that it takes qcow2 only", async () => {
    expect(await b.acceptedDiskFormats()).toEqual(["qcow2"]);
    expect(await a.acceptedDiskFormats()).toContain("raw");
  });

  it("converts a raw image to qcow2 for cloud b: format, size and hash of what went, same guest disk", async () => {
    const req = request();
    const result = await transferImage(req);
    expect(req.formats).toEqual(["qcow2"]);
    expect(result.conversion).toMatchObject({ from: "raw", to: "qcow2", staged: true });
    // The source's hash was checked on the bytes qemu-img read, all of them in order.
    expect(result.conversion!.sourceReads.inOrderBytes).toBe(disk.length);
    const copy = (await b.getImage(result.targetImageId))!;
    expect(copy).toMatchObject({ status: "active", diskFormat: "qcow2" });
    // The manifest is of the converted bytes that were uploaded, and the target's hash is theirs.
    expect(copy.size).toBe(result.manifest.size);
    expect(copy.size).toBe(result.conversion!.stagedBytes);
    expect(copy.hashValue).toBe(result.manifest.imageHash.value);
    const saved = join(work, "copy.qcow2");
    await save(b, result.targetImageId, saved);
    expect(createHash("sha512").update(readFileSync(saved)).digest("hex")).toBe(copy.hashValue);
    const sourceSaved = join(work, "source.raw");
    await save(a, raw.id, sourceSaved);
    expect(
      execFileSync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", sourceSaved, saved]).toString(),
    ).toMatch(/identical/);
    // The holes stayed holes: the qcow2 is smaller than the raw disk.
    expect(copy.size!).toBeLessThan(disk.length);
    expect(readdirSync(staging)).toEqual([]);
  });

  it("converts qcow2 to raw for a target whose clouds.yaml allows only raw (icsdn.disk_formats)", async () => {
    const env = labCloudsEnv();
    const onlyRaw = new OpenStackDriver({
      ...resolveCloud("lab-a", loadCloudsFile(env), env),
      diskFormats: ["raw"],
    });
    const qcow2File = join(work, "disk.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", diskFile, qcow2File]);
    const source = await upload(b, "icsdn-test-convert-qcow2", "qcow2", readFileSync(qcow2File));
    const result = await transferImage(request({ source: b, sourceImage: source, target: onlyRaw }));
    expect(result.conversion).toMatchObject({ from: "qcow2", to: "raw", staged: true });
    const copy = (await a.getImage(result.targetImageId))!;
    expect(copy).toMatchObject({ diskFormat: "raw", hashValue: result.manifest.imageHash.value });
    const saved = join(work, "copy.raw");
    await save(a, result.targetImageId, saved);
    execFileSync("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", qcow2File, saved]);
    expect(readdirSync(staging)).toEqual([]);
  });

  it("fails a corrupt qcow2 naming qemu-img, before anything is created in the target", async () => {
    const env = labCloudsEnv();
    const onlyRaw = new OpenStackDriver({
      ...resolveCloud("lab-a", loadCloudsFile(env), env),
      diskFormats: ["raw"],
    });
    const bytes = readFileSync(join(work, "disk.qcow2"));
    bytes.writeBigUInt64BE(0x12345n, 40); // l1_table_offset, not cluster-aligned
    const corrupt = await upload(b, "icsdn-test-convert-corrupt", "qcow2", bytes);
    const req = request({ source: b, sourceImage: corrupt, target: onlyRaw });
    const err = await transferImage(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediationError);
    expect((err as MediationError).code).toBe("CONVERSION_FAILED");
    expect((err as MediationError).message).toMatch(/qemu-img|nbdkit/);
    expect(req.formats).toEqual([]);
    expect(await a.lookupByName("image", `icsdn-test-converted-${requests}-1`)).toEqual([]);
    expect(readdirSync(staging)).toEqual([]);
  });

  it("fails on a source byte corrupted in flight, naming the source, with nothing uploaded", async () => {
    const proxy = await FaultProxy.start(await a.endpoint("image"));
    try {
      proxy.faults = { corruptDownloadAt: 2 * MiB + 7 };
      const req = request({ source: labDriver("lab-a", { image: proxy.url }) });
      const err = await transferImage(req).catch((e: unknown) => e);
      expect((err as MediationError).code).toBe("HASH_MISMATCH");
      expect((err as MediationError).message).toMatch(new RegExp(`cloud 'lab-a' image ${raw.id}`));
      expect(req.formats).toEqual([]);
      expect(readdirSync(staging)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("refuses, creating nothing, when the target takes no format qemu-img writes", async () => {
    const env = labCloudsEnv();
    const isoOnly = new OpenStackDriver({
      ...resolveCloud("lab-b", loadCloudsFile(env), env),
      diskFormats: ["iso"],
    });
    const req = request({ target: isoOnly });
    const err = await transferImage(req).catch((e: unknown) => e);
    expect((err as MediationError).code).toBe("IMAGE_FORMAT");
    expect((err as MediationError).message).toMatch(/the target accepts iso/);
    expect(req.formats).toEqual([]);
  });
});
