/**
 * Work on received bytes per turn of the event loop, across every connection. At 5,000 switches a
 * phase's replies arrive together: libuv hands every readable socket to one poll phase, and
 * decoding, routing and confirming thousands of batches there could hold the loop for tens of ms.
 * Sending has slices of the same length (openflow-fabric.ts, channel.ts).
 */
export const RECEIVE_SLICE_MS = 2;

/** Bytes one connection may have waiting before its socket stops reading (TCP pushes back). */
export const MAX_WAITING_BYTES = 1024 * 1024;

/** Connections with work waiting, in the order their first waiting work arrived. */
const waiting = new Set<ReceiveQueue>();
/** When this turn's received work began; -1: none yet. */
let turnStarted = -1;
let scheduled = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => void drain());
}

/**
 * In the check phase, after the poll phase that queued: waiting work, oldest first, until the
 * slice is used. Each job's promise reactions (a confirmed batch's continuation) run before the
 * time is read again, so they count in the slice.
 */
async function drain(): Promise<void> {
  scheduled = false;
  if (waiting.size === 0) {
    turnStarted = -1;
    return;
  }
  turnStarted = performance.now();
  for (const queue of waiting) {
    while (queue.runOne()) {
      await undefined;
      if (performance.now() - turnStarted >= RECEIVE_SLICE_MS) {
        // Work of the next poll phase queues behind what waits here (turnStarted stays set).
        schedule();
        return;
      }
    }
    waiting.delete(queue);
  }
  turnStarted = -1;
}

/**
 * What one connection received (data, end, errors) and has not handled yet. A job runs at once
 * while this turn's slice lasts and none of the connection's is waiting; otherwise it waits for a
 * later turn, in order, so each connection's events are handled in the order they came.
 */
export class ReceiveQueue {
  readonly #socket: { pause(): void; resume(): void };
  readonly #jobs: { readonly run: () => void; readonly bytes: number }[] = [];
  #head = 0;
  #bytes = 0;
  #paused = false;

  constructor(socket: { pause(): void; resume(): void }) {
    this.#socket = socket;
  }

  /** Runs `job` (handling `bytes` received bytes) now, or queues it. */
  run(job: () => void, bytes = 0): void {
    if (this.#head === this.#jobs.length) {
      const now = performance.now();
      if (turnStarted < 0) {
        turnStarted = now;
        schedule();
      }
      if (now - turnStarted < RECEIVE_SLICE_MS) {
        job();
        return;
      }
      waiting.add(this);
      schedule();
    }
    this.#jobs.push({ run: job, bytes });
    this.#bytes += bytes;
    if (this.#bytes > MAX_WAITING_BYTES && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Bytes received and not handled yet. */
  get waitingBytes(): number {
    return this.#bytes;
  }

  /** Runs the oldest waiting job; false when none waits. */
  runOne(): boolean {
    const job = this.#jobs[this.#head];
    if (!job) return false;
    this.#head++;
    this.#bytes -= job.bytes;
    if (this.#head === this.#jobs.length) {
      this.#jobs.length = 0;
      this.#head = 0;
    }
    if (this.#paused && this.#bytes <= MAX_WAITING_BYTES / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    job.run();
    return true;
  }
}
