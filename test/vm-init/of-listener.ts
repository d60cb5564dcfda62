/**
 * The smallest OpenFlow controller a test needs: it listens on TCP, answers HELLO with HELLO
 * (OpenFlow 1.3), asks each switch for its features to learn its datapath id, and answers ECHO.
 * Built on proto/, so it also exercises the codec against a real switch.
 */
import { createServer, type Server, type Socket } from "node:net";
import { decodeMessage, encodeMessage, MessageFramer, type OfpMessage } from "../../proto/index.ts";

export interface SwitchSeen {
  remoteAddress: string;
  helloAt: number;
  datapathId?: bigint;
}

export class OfListener {
  readonly switches: SwitchSeen[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private waiters: (() => void)[] = [];

  private constructor(server: Server) {
    this.server = server;
  }

  /** Listens on `host:port` (port 0: any free one). */
  static async start(host: string, port = 0): Promise<OfListener> {
    const server = createServer();
    const l = new OfListener(server);
    server.on("connection", (s) => l.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return l;
  }

  get port(): number {
    const a = this.server.address();
    if (a === null || typeof a === "string") throw new Error("not listening");
    return a.port;
  }

  /** TCP connections from switches open now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Resolves once a switch has said HELLO and sent its FEATURES_REPLY, or rejects after `ms`. */
  async waitForSwitch(ms: number): Promise<SwitchSeen> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.switches.find((x) => x.datapathId !== undefined);
      if (s) return s;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no switch completed the handshake within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    const seen: SwitchSeen = { remoteAddress: sock.remoteAddress ?? "", helloAt: 0 };
    const framer = new MessageFramer();
    const send = (m: OfpMessage) => sock.write(encodeMessage(m));
    send({ type: "HELLO", xid: 1, elements: [{ kind: "VERSION_BITMAP", versions: [4] }] });
    sock.on("data", (chunk) => {
      let frames: Uint8Array[];
      try {
        frames = framer.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        let m: OfpMessage;
        try {
          m = decodeMessage(f);
        } catch {
          continue; // a message type this test controller does not need (PORT_STATUS, ...)
        }
        if (m.type === "HELLO") {
          seen.helloAt = Date.now();
          this.switches.push(seen);
          send({ type: "FEATURES_REQUEST", xid: 2 });
        } else if (m.type === "ECHO_REQUEST") {
          send({ type: "ECHO_REPLY", xid: m.xid, data: m.data });
        } else if (m.type === "FEATURES_REPLY") {
          seen.datapathId = m.datapathId;
          for (const w of this.waiters.splice(0)) w();
        }
      }
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => this.sockets.delete(sock));
  }
}
