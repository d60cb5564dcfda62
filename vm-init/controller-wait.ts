import { readFile } from "node:fs/promises";
import { endianness } from "node:os";
import { establishedPeers, targetPeer } from "./proc-net.ts";

export interface ControllerWait {
  connected: boolean;
  /** The target icbr0 connected to, when it did. */
  target?: string;
  /** performance.now() when the connection was seen. */
  at?: number;
}

/**
 * Waits until ovs-vswitchd holds an ESTABLISHED TCP connection to one of `targets`, polling
 * /proc/<its pid>/net/tcp (its network namespace's sockets) every millisecond.
 *
 * Why not OVSDB's Controller is_connected: ovs-vswitchd writes it only on its statistics timer
 * (every 5 s at best), so it lags the real connection by up to 5 s. The socket is what the
 * connection is; it is established one round trip before OpenFlow HELLOs are exchanged.
 */
export async function waitForController(
  targets: readonly string[],
  opts: { vswitchdPid: number | undefined; timeoutMs: number; signal?: AbortSignal },
): Promise<ControllerWait> {
  if (targets.length === 0) return { connected: false };
  const file = `/proc/${opts.vswitchdPid ?? "self"}/net/tcp`;
  const wanted = targets.map((t) => ({ t, peer: targetPeer(t) }));
  const le = endianness() === "LE";
  const deadline = performance.now() + opts.timeoutMs;
  for (;;) {
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch {
      // ovs-vswitchd gone mid-wait: nothing will connect.
      return { connected: false };
    }
    const peers = establishedPeers(text, le);
    const hit = wanted.find((w) => peers.some((p) => p.address === w.peer.address && p.port === w.peer.port));
    if (hit) return { connected: true, target: hit.t, at: performance.now() };
    if (performance.now() >= deadline || opts.signal?.aborted) return { connected: false };
    await new Promise((r) => setTimeout(r, 1));
  }
}
