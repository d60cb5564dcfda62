/**
 * Work between two yields to the event loop when a loop over every switch (a plan's batches, a
 * rebind's priming) runs in slices. A turn may also uncork writes and handle replies (2 ms each,
 * channel.ts and receive-slices.ts).
 */
export const SLICE_MS = 2;

/** One loop's slices: `if (slices.due()) await slices.next();` between two items of work. */
export class WorkSlices {
  #started = performance.now();

  /** This slice's time is used up. */
  due(): boolean {
    return performance.now() - this.#started >= SLICE_MS;
  }

  /** Yields to the event loop (after its poll phase: timers, replies and requests go first). */
  async next(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#started = performance.now();
  }
}
