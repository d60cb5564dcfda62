import { createServer, type Server, type Socket } from "node:net";
import { decodeMessage, encodeMessage, MessageFramer, OFPT } from "../../proto/index.ts";

/** What a raw round writes to one switch: bytes ending in a BARRIER_REQUEST with `barrierXid`. */
export interface RawFrames {
  readonly bytes: Uint8Array;
  readonly barrierXid: number;
}

/**
 * The floor of a round to the switches: a bare OpenFlow 1.3 speaker that switches also dial (a
 * bridge's extra controller) and that does nothing but HELLO, FEATURES, ECHO and, on request,
 * one BARRIER_REQUEST to every switch at once. A round's time (all requests written in one turn,
 * until the last reply) is what no controller can beat on this machine: the switches' own
 * answer time plus the loopback. `rawRound` writes given bytes instead (a controller's bundles,
 * replayed): what the switches take to apply that work, with no controller logic around it.
 */
export class FloorController {
  readonly #server: Server;
  readonly #sockets = new Map<bigint, Socket>();
  readonly #waiting = new Map<number, () => void>();
  #xid = 0x10000;
  /** OFPT_ERROR messages received so far. */
  #errors = 0;

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
    return this.rawRound([...this.#sockets.keys()], (_dpid, nextXid) => {
      const barrierXid = nextXid();
      return { bytes: encodeMessage({ type: "BARRIER_REQUEST", xid: barrierXid }), barrierXid };
    });
  }

  /**
   * `frames(dpid, nextXid)` written to each of `dpids` in one turn (one write per switch), ms
   * until the last barrier reply. Throws if a switch answered any of it with an ERROR: a refused
   * bundle would time something else.
   */
  async rawRound(
    dpids: readonly bigint[],
    frames: (dpid: bigint, nextXid: () => number) => RawFrames,
  ): Promise<number> {
    const nextXid = () => ++this.#xid;
    const writes = dpids.map((dpid) => {
      const socket = this.#sockets.get(dpid);
      if (!socket) throw new Error(`switch ${dpid.toString(16)} is not connected to the floor speaker`);
      return { socket, ...frames(dpid, nextXid) };
    });
    const errors = this.#errors;
    const replies = writes.map(
      ({ barrierXid }) => new Promise<void>((resolve) => this.#waiting.set(barrierXid, resolve)),
    );
    const start = performance.now();
    for (const { socket, bytes } of writes) socket.write(bytes);
    await Promise.all(replies);
    const ms = performance.now() - start;
    if (this.#errors !== errors) throw new Error(`${this.#errors - errors} OpenFlow errors in a raw round`);
    return ms;
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
          case OFPT.ERROR:
            this.#errors++;
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
