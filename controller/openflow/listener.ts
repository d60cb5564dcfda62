import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { ListenAddress } from "../../contract/http/serve-config.ts";
import type { OfLog } from "./log.ts";
import { plainAddress } from "./session.ts";

/** The material of a mutually authenticated TLS listener (PEM). */
export interface TlsMaterial {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** The CA switch certificates must chain to. */
  readonly ca: string | Buffer;
}

/**
 * One listening socket for switches, plain TCP or TLS. With TLS every switch must present a
 * certificate signed by `ca` (OVS: `ovs-vsctl set-ssl key cert cacert`); one without is refused
 * during the TLS handshake, before any OpenFlow byte is read.
 */
export class OpenFlowListener {
  readonly transport: "tcp" | "tls";
  readonly #server: Server;
  readonly #at: ListenAddress;
  #listening = false;

  constructor(
    at: ListenAddress,
    tls: TlsMaterial | undefined,
    options: { maxConnections: number; handshakeTimeoutMs: number; log: OfLog },
    onSocket: (socket: Socket, transport: "tcp" | "tls") => void,
  ) {
    this.#at = at;
    this.transport = tls ? "tls" : "tcp";
    if (tls) {
      const server = createTlsServer({
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        handshakeTimeout: options.handshakeTimeoutMs,
      });
      server.on("secureConnection", (s: TLSSocket) => onSocket(s, "tls"));
      server.on("tlsClientError", (err, s) => {
        // By then the TLS socket has let go of its address; the TCP socket under it still has it.
        const raw = (s as TLSSocket & { _parent?: Socket })._parent ?? s;
        options.log.warn("TLS client refused (no valid certificate from our CA?)", {
          remote: `${plainAddress(raw.remoteAddress)}:${raw.remotePort ?? 0}`,
          error: err.message.trim(),
        });
      });
      this.#server = server;
    } else {
      this.#server = createServer((s) => onSocket(s, "tcp"));
    }
    this.#server.maxConnections = options.maxConnections;
    this.#server.on("drop", (d) =>
      options.log.warn("connection refused: too many connections", {
        remote: d?.remoteAddress,
        limit: options.maxConnections,
      }),
    );
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#at.port, this.#at.host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    this.#listening = true;
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Where it listens (the real port when asked for port 0). */
  address(): ListenAddress {
    const a = this.#server.address();
    if (a === null || typeof a === "string") return this.#at;
    return { host: a.address, port: a.port };
  }

  /** Stops accepting; open sockets are the sessions' to close. */
  async close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
