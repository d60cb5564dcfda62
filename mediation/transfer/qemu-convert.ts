import { spawn } from "node:child_process";
import { join } from "node:path";
import { MediationError } from "../errors.ts";
import { QEMU_IMG_FORMATS } from "./format-plan.ts";

const STDERR_LIMIT = 4096;

let found: Promise<boolean> | undefined;

/**
 * Whether qemu-img and nbdkit's curl plugin are installed (scripts/setup.sh installs both). Asked
 * at every pre-check that plans a conversion: once they are found, the answer is kept for the
 * process; a miss is asked again (the tools may be installed without a restart).
 */
export function converterAvailable(): Promise<boolean> {
  found ??= probeConverter().then((ok) => {
    if (!ok) found = undefined;
    return ok;
  });
  return found;
}

async function probeConverter(): Promise<boolean> {
  const ok = (cmd: string, args: string[]) =>
    run(cmd, args, {}).then(
      () => true,
      () => false,
    );
  const [qemu, nbdkit] = await Promise.all([
    ok("qemu-img", ["--version"]),
    ok("nbdkit", ["curl", "--dump-plugin"]),
  ]);
  return qemu && nbdkit;
}

export interface NbdSource {
  /** The Unix socket of an HTTP server that answers Range GETs for the image (SourceRangeServer). */
  readonly httpSocket: string;
  /** Glance's name of the image's disk format. */
  readonly format: string;
  /**
   * The conversion's private staging directory (staging.ts), where nbdkit's export socket goes:
   * removed with it, and swept by the next conversion when a kill -9 left it (nbdkit's own, from
   * `-U -`, stayed behind in the system's temp directory when a cancel killed it).
   */
  readonly dir: string;
}

/** Numbers each nbdkit's socket: one staging directory serves several (the size, the conversion). */
let nbdSockets = 0;

/** The image's virtual (guest) size, read by qemu-img through nbdkit over the source's HTTP. */
export async function virtualSize(src: NbdSource, signal?: AbortSignal): Promise<number> {
  const out = await overNbd(src, 'exec qemu-img info --output=json -f "$ICSDN_FROM" "$nbd"', {}, signal);
  const size = (JSON.parse(out) as { "virtual-size"?: number })["virtual-size"];
  if (typeof size !== "number")
    throw new MediationError("CONVERSION_FAILED", "qemu-img info gave no virtual size");
  return size;
}

/**
 * qemu-img convert from the source (nbdkit's curl plugin over the source's HTTP: read at random,
 * nothing staged) into `outFile` in format `to`. One coroutine (`-m 1`): reads come in order where
 * the source format allows, so the source's hash sees them as they pass.
 */
export async function convertToFile(
  src: NbdSource,
  to: string,
  outFile: string,
  signal?: AbortSignal,
): Promise<void> {
  await overNbd(
    src,
    'exec qemu-img convert -m 1 -f "$ICSDN_FROM" -O "$ICSDN_TO" "$nbd" "$ICSDN_OUT"',
    { ICSDN_TO: qemuFormat(to), ICSDN_OUT: outFile },
    signal,
  );
}

/** Runs `script` (sh, `$nbd` the export's URI) under nbdkit's captive mode: nbdkit ends with it. */
function overNbd(
  src: NbdSource,
  script: string,
  env: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<string> {
  return run(
    "nbdkit",
    [
      "--exit-with-parent",
      "--readonly",
      "-U",
      join(src.dir, `nbd-${++nbdSockets}.sock`),
      "curl",
      "url=http://localhost/image",
      `unix-socket-path=${src.httpSocket}`,
      "--run",
      script,
    ],
    { ...env, ICSDN_FROM: qemuFormat(src.format) },
    signal,
  );
}

function qemuFormat(glance: string): string {
  const f = QEMU_IMG_FORMATS[glance];
  if (!f) throw new MediationError("IMAGE_FORMAT", `qemu-img does not handle disk format '${glance}'`);
  return f;
}

/** Runs a command in its own process group (a cancel ends nbdkit and qemu-img together); its stdout. */
function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err = (err + d).slice(-STDERR_LIMIT);
    });
    const abort = () => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    };
    signal?.addEventListener("abort", abort, { once: true });
    child.once("error", (e) => {
      signal?.removeEventListener("abort", abort);
      reject(new MediationError("CONVERSION_FAILED", `${cmd} could not run: ${e.message}`, { cause: e }));
    });
    child.once("close", (code, sig) => {
      signal?.removeEventListener("abort", abort);
      if (signal?.aborted) {
        reject(new MediationError("CANCELLED", "the migration was cancelled during the conversion"));
      } else if (code === 0) {
        resolve(out);
      } else {
        const why = err.trim().split("\n").slice(-3).join("; ") || `exit ${code ?? sig}`;
        reject(new MediationError("CONVERSION_FAILED", `${cmd}: ${why}`, { details: { command: cmd } }));
      }
    });
  });
}
