import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { decodeMessage, encodeMessage, MessageFramer, type OfpMessage } from "../../proto/index.ts";
import { startOvsDaemons } from "../support/ovs-daemons.ts";

/**
 * A private Open vSwitch (its own ovsdb-server and ovs-vswitchd, userspace datapath, files in a
 * temp dir), so proto tests can read what a real switch sends without touching the system's OVS
 * or the lab's. The bridge listens for its controller on a unix socket: we connect as that
 * controller, which makes us a primary connection that gets PACKET_IN and FLOW_REMOVED.
 */
export interface PrivateOvs {
  readonly dir: string;
  readonly bridge: string;
  /** Where the bridge waits for its controller. */
  readonly controllerSocket: string;
  ofctl(...args: string[]): string;
  vsctl(...args: string[]): string;
  stop(): void;
}

export function startPrivateOvs(bridge = "br0"): PrivateOvs {
  // OVS's dummy datapath (as its testsuite uses): with netdev, two instances in one network
  // namespace (another test file, a mutation-testing run) fight over the same ovs-netdev device.
  const ovs = startOvsDaemons({ prefix: "icsdn-ovs-", dummyDatapath: true });
  try {
    // OVS only listens for a controller on a unix path named after the bridge, in its rundir.
    const controllerSocket = join(ovs.dir, `${bridge}.controller`);
    ovs.vsctl(
      "add-br",
      bridge,
      "--",
      "set",
      "bridge",
      bridge,
      "datapath_type=dummy",
      "protocols=OpenFlow13",
      "fail_mode=secure",
      "controller=@c",
      "--",
      "--id=@c",
      "create",
      "controller",
      `target="punix:${controllerSocket}"`,
      // A passive controller connection is a "service" one, without PACKET_IN, unless told otherwise.
      "type=primary",
    );
    return { dir: ovs.dir, bridge, controllerSocket, ofctl: ovs.ofctl, vsctl: ovs.vsctl, stop: ovs.stop };
  } catch (err) {
    ovs.stop();
    throw err;
  }
}

/** A minimal controller connection: sends messages, keeps every decoded message it receives. */
export class TestController {
  readonly received: OfpMessage[] = [];
  /** The bytes of each received message, index for index with `received`. */
  readonly frames: Uint8Array[] = [];
  private readonly socket: Socket;
  private readonly framer = new MessageFramer();
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk) => {
      try {
        for (const bytes of this.framer.push(new Uint8Array(chunk))) {
          const m = decodeMessage(bytes);
          // Keep the switch's inactivity probe happy however long a test takes.
          if (m.type === "ECHO_REQUEST") this.send({ type: "ECHO_REPLY", xid: m.xid, data: m.data });
          this.received.push(m);
          this.frames.push(bytes.slice());
        }
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
      for (const w of [...this.waiters]) w();
    });
  }

  /** Connects (retrying while the switch creates its socket) and exchanges HELLOs. */
  static async connect(path: string, timeoutMs = 10_000): Promise<TestController> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once("error", reject);
        });
        const c = new TestController(socket);
        c.send({ type: "HELLO", xid: 1, elements: [{ kind: "VERSION_BITMAP", versions: [4] }] });
        await c.until((m) => m.type === "HELLO");
        return c;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  send(m: OfpMessage): void {
    this.socket.write(encodeMessage(m));
  }

  /** Resolves with the first received message (old or new) that satisfies `pred`. */
  async until<M extends OfpMessage>(pred: (m: OfpMessage) => m is M, timeoutMs?: number): Promise<M>;
  async until(pred: (m: OfpMessage) => boolean, timeoutMs?: number): Promise<OfpMessage>;
  async until(pred: (m: OfpMessage) => boolean, timeoutMs = 5_000): Promise<OfpMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const hit = this.received.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out; received: ${this.received.map((m) => m.type).join(", ")}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.waiters = this.waiters.filter((w) => w !== wake);
          resolve();
        };
        const t = setTimeout(wake, left);
        this.waiters.push(wake);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
