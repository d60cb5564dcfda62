import fc from "fast-check";
import type { OfpMessage } from "../../proto/index.ts";
import { arbMessage } from "./arbitraries.ts";

/** A fixed, reproducible set of valid messages of every type (seeded), for mutation fuzzing. */
export function sampleMessages(n = 300): OfpMessage[] {
  return fc.sample(arbMessage, { numRuns: n, seed: 42 });
}
