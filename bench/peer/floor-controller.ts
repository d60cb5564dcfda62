import { createServer, type Server, type Socket } from "node:net";
import { decodeMessage, encodeMessage, MessageFramer, OFPT } from "../../proto/index.ts";

/**
 * The floor of a round to the switches: a bare OpenFlow 1.3 speaker that switches also dial (a
 * bridge's extra controller) and that does nothing but HELLO, FEATURES, ECHO and, on request,
 * one BARRIER_REQUEST to every switch at once. A round's time (all requests written in one turn,
 * until the last reply) is what no controller can beat on this machine: the switches' own
 * answer time plus the loopback.
 */
export class FloorController {
  readonly #server: Server;
  readonly #sockets = new Map<bigint, Socket>();
  readonly #waiting = new Map<number, () => void>();
  #xid = 0x10000;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async listen(): Promise<FloorController> {
    const server = createServer();
    const floor = new FloorController(server);
    server.on("connection", (socket) => floor.#accept(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return floor;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("floor controller not listening");
    return address.port;
  }

  /** How many switches have connected and told their dpid. */
  get switches(): number {
    return this.#sockets.size;
  }

  /** One bare barrier round to every connected switch in parallel; ms until the last reply. */
  async barrierRound(): Promise<number> {
    const replies: Promise<void>[] = [];
    const start = performance.now();
    for (const socket of this.#sockets.values()) {
      const xid = ++this.#xid;
      replies.push(new Promise((resolve) => this.#waiting.set(xid, resolve)));
      socket.write(encodeMessage({ type: "BARRIER_REQUEST", xid }));
    }
    await Promise.all(replies);
    return performance.now() - start;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets.values()) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const framer = new MessageFramer();
    let dpid: bigint | undefined;
    socket.write(
      encodeMessage({ type: "HELLO", xid: 1, elements: [{ kind: "VERSION_BITMAP", versions: [4] }] }),
    );
    socket.write(encodeMessage({ type: "FEATURES_REQUEST", xid: 2 }));
    socket.on("data", (chunk) => {
      for (const bytes of framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
        const xid = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4);
        switch (bytes[1]) {
          case OFPT.BARRIER_REPLY:
            this.#waiting.get(xid)?.();
            this.#waiting.delete(xid);
            break;
          case OFPT.ECHO_REQUEST:
            socket.write(encodeMessage({ type: "ECHO_REPLY", xid, data: bytes.slice(8) }));
            break;
          case OFPT.FEATURES_REPLY: {
            const m = decodeMessage(bytes);
            if (m.type === "FEATURES_REPLY") {
              dpid = m.datapathId;
              this.#sockets.set(dpid, socket);
            }
            break;
          }
        }
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (dpid !== undefined && this.#sockets.get(dpid) === socket) this.#sockets.delete(dpid);
    });
  }
}
