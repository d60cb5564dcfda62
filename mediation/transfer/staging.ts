import { mkdtemp, readdir, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MediationError } from "../errors.ts";

const PREFIX = "icsdn-convert-";
/** Room left over on top of the image: the file system's own needs, qemu-img's metadata. */
const MARGIN_BYTES = 64 << 20;

/** Where conversions stage: `ICSDN_MEDIATION_STAGING_DIR`, else the system's temp directory. */
export function defaultStagingDir(): string {
  return process.env.ICSDN_MEDIATION_STAGING_DIR || tmpdir();
}

/**
 * Runs `fn` in a fresh private directory under `base` (mode 0700, named after this process) and
 * removes it afterwards, whatever happened. Directories a killed process left behind (its pid no
 * longer alive) are removed first.
 */
export async function withStagingDir<T>(base: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await removeOrphans(base);
  const dir = await mkdtemp(join(base, `${PREFIX}${process.pid}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Fails STAGING_SPACE unless `dir`'s file system has `bytes` free (and a margin). */
export async function ensureFreeSpace(dir: string, bytes: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes + MARGIN_BYTES) {
    throw new MediationError(
      "STAGING_SPACE",
      `the conversion needs ${mb(bytes + MARGIN_BYTES)} MB in the staging directory ${dir}, which has ${mb(free)} MB free`,
      { details: { dir, neededBytes: bytes + MARGIN_BYTES, freeBytes: free } },
    );
  }
}

async function removeOrphans(base: string): Promise<void> {
  const names = await readdir(base).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^icsdn-convert-(\d+)-/.exec(name)?.[1]);
    if (pid > 0 && pid !== process.pid && !alive(pid)) {
      await rm(join(base, name), { recursive: true, force: true });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const mb = (bytes: number) => Math.ceil(bytes / 1e6);
