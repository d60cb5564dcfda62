import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { execa } from "execa";
import type { OpenStackDriver } from "../../mediation/clouds/openstack/openstack-driver.ts";
import { transferImage } from "../../mediation/transfer/convert-transfer.ts";
import { DEFAULT_CHUNK_SIZE } from "../../mediation/transfer/manifest.ts";
import type { Figure } from "../figures.ts";
import { incompressible } from "./incompressible.ts";

/**
 * An image of `bytes` incompressible bytes in cloud a in `format` (qemu-img converts the raw
 * bytes; a qcow2 of them is as large plus its tables). Its file is left in `dir`.
 */
export async function incompressibleImage(
  a: OpenStackDriver,
  o: { name: string; bytes: number; seed: number; format: "raw" | "qcow2"; dir: string },
): Promise<{ id: string; file: string }> {
  const raw = join(o.dir, `${o.name}.raw`);
  await pipeline(incompressible(o.bytes, o.seed), createWriteStream(raw));
  let file = raw;
  if (o.format !== "raw") {
    file = join(o.dir, `${o.name}.${o.format}`);
    await execa("qemu-img", ["convert", "-f", "raw", "-O", o.format, raw, file]);
    rmSync(raw);
  }
  const id = await a.createImage({
    name: o.name,
    diskFormat: o.format,
    containerFormat: "bare",
    properties: {},
  });
  await a.uploadImage(id, createReadStream(file));
  return { id, file };
}

/**
 * Cloud b takes qcow2 only: a raw image of `bytes` moved a -> b is converted (source read through
 * nbdkit, qemu-img's output staged, then uploaded), next to the same bytes as a qcow2 image that
 * goes as it is (one stream), in the same run.
 */
export async function measureConversion(
  a: OpenStackDriver,
  b: OpenStackDriver,
  o: { label: string; bytes: number; dir: string },
): Promise<Figure[]> {
  const figures: Figure[] = [];
  const times: Record<string, number> = {};
  for (const format of ["raw", "qcow2"] as const) {
    const source = await incompressibleImage(a, {
      name: `bench-conv-${o.label}-${format}`,
      bytes: o.bytes,
      seed: 7,
      format,
      dir: o.dir,
    });
    rmSync(source.file);
    const t0 = performance.now();
    const r = await transferImage({
      source: a,
      sourceImage: (await a.getImage(source.id))!,
      target: b,
      chunkSize: DEFAULT_CHUNK_SIZE,
      stagingDir: o.dir,
      newTargetImage: (attempt, diskFormat) =>
        b.createImage({
          name: `bench-conv-copy-${attempt}`,
          diskFormat,
          containerFormat: "bare",
          properties: {},
        }),
      discardTargetImage: (id) => b.deleteImage(id),
    });
    times[format] = performance.now() - t0;
    if (r.conversion) {
      figures.push({
        name: `mediation.conversion.convert_s.${o.label}`,
        value: r.conversion.seconds,
        unit: `s (raw -> qcow2: nbdkit + qemu-img, source unstaged, output staged: ${r.conversion.stagedBytes} bytes)`,
      });
    }
    await b.deleteImage(r.targetImageId);
    await a.deleteImage(source.id);
  }
  figures.push(
    {
      name: `mediation.conversion.total_s.${o.label}`,
      value: times.raw! / 1000,
      unit: "s (raw image a -> qcow2 in b: conversion, then upload)",
    },
    {
      name: `mediation.conversion.streamed_s.${o.label}`,
      value: times.qcow2! / 1000,
      unit: "s (the same bytes as a qcow2 image a -> b as it is: one stream)",
    },
    {
      name: `mediation.conversion.vs_streamed.${o.label}`,
      value: times.raw! / times.qcow2!,
      unit: "ratio (time of the converted move to the streamed one)",
    },
  );
  return figures;
}
