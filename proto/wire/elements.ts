import { ProtoError } from "../errors.ts";

/**
 * Checks the length field of a length-delimited element (action, instruction, bucket, stats
 * entry) read at `at`: at least `min`, a multiple of `align`, and within the `remaining` bytes of
 * its container counted from the element's start. A zero or short length would otherwise make a
 * decode loop spin in place, and a long one would read into the neighbour.
 */
export function checkElementLength(
  len: number,
  min: number,
  align: number,
  remaining: number,
  what: string,
  at: number,
): void {
  if (len < min) throw new ProtoError("BAD_LENGTH", `${what} length ${len} < ${min}`, at);
  if (len % align !== 0) {
    throw new ProtoError("BAD_LENGTH", `${what} length ${len} is not a multiple of ${align}`, at);
  }
  if (len > remaining) {
    throw new ProtoError(
      "BAD_LENGTH",
      `${what} length ${len} runs past its container (${remaining} left)`,
      at,
    );
  }
}
