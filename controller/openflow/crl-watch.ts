import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { OfLog } from "./log.ts";
import { crlSerials } from "./pki.ts";

/** Changes of one file within this long are read once (a rename and a write arrive together). */
const SETTLE_MS = 50;

/**
 * Watches a CRL file and hands every new version to `apply`, with the serials it revokes (`apply`
 * throws on a CRL it cannot use: the one in force then stays). It watches the directory, not the file: `pki revoke` renames
 * a new file over the old one, which a watch on the file itself would lose. `reload()` reads it
 * now (SIGHUP).
 */
export class CrlWatch {
  readonly #file: string;
  readonly #apply: (crl: Buffer, revoked: ReadonlySet<string>) => void;
  readonly #log: OfLog;
  #watcher: FSWatcher | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(file: string, apply: (crl: Buffer, revoked: ReadonlySet<string>) => void, log: OfLog) {
    this.#file = file;
    this.#apply = apply;
    this.#log = log;
  }

  start(): void {
    const name = basename(this.#file);
    this.#watcher = watch(dirname(this.#file), (_event, changed) => {
      if (changed !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.reload(), SETTLE_MS);
    });
    this.#watcher.on("error", (err) =>
      this.#log.error("CRL watch failed; reload with SIGHUP", { file: this.#file, error: err.message }),
    );
  }

  /** Reads and applies the CRL; false (and logged) when it is missing or unusable. */
  async reload(): Promise<boolean> {
    let crl: Buffer;
    try {
      crl = await readFile(this.#file);
    } catch (err) {
      // Deleted or not written yet: keep the CRL in force rather than forgetting revocations.
      this.#log.warn("CRL not read; the one in force stays", {
        file: this.#file,
        error: (err as Error).message,
      });
      return false;
    }
    try {
      this.#apply(crl, await crlSerials(crl));
    } catch (err) {
      this.#log.error("CRL refused; the one in force stays", {
        file: this.#file,
        error: (err as Error).message,
      });
      return false;
    }
    this.#log.info("CRL reloaded", { file: this.#file });
    return true;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
