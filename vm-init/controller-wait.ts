import { closeSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { currEstab, establishedPeers, targetPeer } from "./proc-net.ts";

export interface ControllerWait {
  connected: boolean;
  /** The target icbr0 connected to, when it did. */
  target?: string;
  /** performance.now() when the connection was seen. */
  at?: number;
}

/** How often the cheap counter is read. */
const POLL_MS = 1;
/** How often the connection table is read even when the counter did not move. */
const FULL_CHECK_MS = 50;

/**
 * Waits until ovs-vswitchd holds an ESTABLISHED TCP connection to one of `targets`.
 *
 * Why not OVSDB's Controller is_connected: ovs-vswitchd writes it only on its statistics timer
 * (every 5 s at best), so it lags the real connection by up to 5 s. The socket is what the
 * connection is; it is established one round trip before OpenFlow HELLOs are exchanged.
 *
 * How: every millisecond, TCP's CurrEstab counter of ovs-vswitchd's network namespace
 * (/proc/<pid>/net/snmp, ~40 us to read); when it moves (and on the first look, and every 50 ms
 * in case one connection opened as another closed), /proc/<pid>/net/tcp says whether one of the
 * new connections is ovs-vswitchd's to a target. Reading /proc/net/tcp on every poll instead costs
 * a millisecond or more of CPU per read, which the machine's ovs-vswitchd needs at that moment.
 * The connection counts from the counter read that revealed it.
 *
 * `establishedBefore`: CurrEstab read before the controller was configured; then the first look
 * needs no full check unless the counter has moved since.
 */
export async function waitForController(
  targets: readonly string[],
  opts: {
    vswitchdPid: number | undefined;
    timeoutMs: number;
    signal?: AbortSignal;
    establishedBefore?: number;
  },
): Promise<ControllerWait> {
  if (targets.length === 0) return { connected: false };
  const proc = `/proc/${opts.vswitchdPid ?? "self"}/net`;
  const le = endianness() === "LE";
  const deadline = performance.now() + opts.timeoutMs;
  let last = opts.establishedBefore;
  // Without a count from before, look at the connections at once (they may be up already).
  let lastFull = last === undefined ? Number.NEGATIVE_INFINITY : performance.now();
  for (;;) {
    const seen = performance.now();
    const snmp = readProc(`${proc}/snmp`, false);
    // ovs-vswitchd gone mid-wait: nothing will connect.
    if (snmp === undefined) return { connected: false };
    const est = currEstab(snmp);
    const moved = last !== undefined && est !== undefined && est !== last;
    if (moved || est === undefined || seen - lastFull >= FULL_CHECK_MS) {
      last = est;
      const tcp = readProc(`${proc}/tcp`, true);
      lastFull = performance.now();
      if (tcp === undefined) return { connected: false };
      const hit = establishedTo(targets, tcp, le);
      // Up when the counter moved, if that is what revealed it; else known only from now.
      if (hit) return { connected: true, target: hit, at: moved ? seen : lastFull };
    }
    if (performance.now() >= deadline || opts.signal?.aborted) return { connected: false };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The first of `targets` a connection of the /proc/net/tcp text `tcp` is ESTABLISHED to. */
function establishedTo(targets: readonly string[], tcp: string, le: boolean): string | undefined {
  const peers = establishedPeers(tcp, le);
  return targets.find((t) => {
    const want = targetPeer(t);
    return peers.some((p) => p.address === want.address && p.port === want.port);
  });
}

/**
 * The target ovs-vswitchd's network namespace holds an ESTABLISHED connection to now, if any:
 * one read of /proc/<pid>/net/tcp (a millisecond or two).
 */
export function connectedTargetNow(
  targets: readonly string[],
  vswitchdPid: number | undefined,
): string | undefined {
  if (targets.length === 0) return undefined;
  const tcp = readProc(`/proc/${vswitchdPid ?? "self"}/net/tcp`, true);
  return tcp === undefined ? undefined : establishedTo(targets, tcp, endianness() === "LE");
}

/** CurrEstab of ovs-vswitchd's network namespace now, to pass as `establishedBefore`. */
export function establishedNow(vswitchdPid: number | undefined): number | undefined {
  const snmp = readProc(`/proc/${vswitchdPid ?? "self"}/net/snmp`, false);
  return snmp === undefined ? undefined : currEstab(snmp);
}

const CHUNK = 64 * 1024;
/**
 * /proc/net/tcp lines are 150 bytes and the kernel fills each read from a buffer of at least a
 * page: a read that leaves room for another line ended at the end of the table. Stopping there
 * saves the closing read(2), which would walk the whole table once more (~1.5 ms here).
 */
const SHORT_READ = 4096 - 150;

/**
 * A /proc file, read synchronously on purpose: tens of microseconds for snmp, where the thread
 * pool round trip of an async read costs ten times that. Large reads, because each read(2) of
 * /proc/net/tcp walks the kernel's connection table again.
 */
function readProc(path: string, tcpTable: boolean): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const b = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, b, 0, CHUNK, null);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
      if (tcpTable && n < SHORT_READ) break;
    }
    return Buffer.concat(chunks).toString("utf8");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
