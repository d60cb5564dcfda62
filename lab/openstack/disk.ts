/**
 * A server's disk is a real file (raw, in its instance folder): write and read bytes in it, as the
 * VM would on its block device; and make image files of a given size to register in a cloud.
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "../state.ts";
import { openstackRoot } from "./services.ts";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The disk file of server `uuid`, in whichever cloud runs it. */
export function serverDisk(uuid: string): string {
  if (!UUID_RE.test(uuid)) throw new LabError("BAD_OPTION", `server id '${uuid}' is not a UUID`);
  const data = join(openstackRoot(), "data");
  const clouds = existsSync(data) ? readdirSync(data) : [];
  for (const c of clouds) {
    const disk = join(data, c, "nova", "instances", uuid, "disk");
    if (existsSync(disk)) return disk;
  }
  throw new LabError("NO_SERVER", `no lab VM disk for server ${uuid} (is it ACTIVE in a lab cloud?)`);
}

export function writeDisk(uuid: string, offset: number, data: Uint8Array): void {
  checkOffset(offset);
  const fd = openSync(serverDisk(uuid), "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

export function readDisk(uuid: string, offset: number, length: number): Buffer {
  checkOffset(offset);
  const buf = Buffer.alloc(length);
  const fd = openSync(serverDisk(uuid), "r");
  try {
    const n = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new LabError("BAD_OPTION", `offset must be >= 0, not ${offset}`);
}

export type ImageKind = "random" | "sparse";

/**
 * An image file of `bytes` bytes: `random` is incompressible (as the paper's 800 MB and
 * 1060.94 MB images), `sparse` is all zeros but a 1 MiB random head (a mostly empty disk).
 */
export function makeImageFile(path: string, bytes: number, kind: ImageKind): void {
  if (!Number.isSafeInteger(bytes) || bytes < 1)
    throw new LabError("BAD_OPTION", `image size must be >= 1 byte, not ${bytes}`);
  const fd = openSync(path, "w");
  try {
    const head = Math.min(bytes, kind === "sparse" ? 1 << 20 : bytes);
    const chunk = 8 << 20;
    for (let at = 0; at < head; at += chunk) {
      const b = randomBytes(Math.min(chunk, head - at));
      writeSync(fd, b, 0, b.length, at);
    }
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/** "800M", "1060.94M", "2G", "4096" (bytes) -> bytes; M and G are 10^6 and 10^9 as the paper's MB. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/.exec(text);
  if (!m) throw new LabError("BAD_OPTION", `size '${text}': a number with an optional K, M or G`);
  const mult = { "": 1, K: 1e3, M: 1e6, G: 1e9 }[m[2] as "" | "K" | "M" | "G"];
  return Math.round(Number(m[1]) * mult);
}
