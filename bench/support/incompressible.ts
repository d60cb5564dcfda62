import { createCipheriv } from "node:crypto";
import { Readable } from "node:stream";

/**
 * `size` incompressible bytes, the same for the same seed: AES-128-CTR over zeros (a gigabyte in
 * about a second, unlike randomBytes), so one image can be regenerated for an upload-only run.
 */
export function incompressible(size: number, seed: number): Readable {
  const key = Buffer.alloc(16, seed);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const block = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(block.length, left);
      left -= n;
      this.push(cipher.update(block.subarray(0, n)));
    },
  });
}
