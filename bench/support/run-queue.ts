import { readFileSync } from "node:fs";

/**
 * Milliseconds the calling thread has spent waiting for a CPU while it could run, since it
 * started: the second field of Linux's /proc/thread-self/schedstat (run_delay, ns). On a machine
 * whose cores other processes keep busy, this is the part of an event-loop delay that is not the
 * process's doing.
 */
export function runQueueMs(): number {
  const fields = readFileSync("/proc/thread-self/schedstat", "latin1").split(" ");
  return Number(fields[1]) / 1e6;
}
