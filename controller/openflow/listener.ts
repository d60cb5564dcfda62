import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import type { ListenAddress } from "../config.ts";
import type { HandshakeFailure } from "./handshake-failures.ts";
import type { OfLog } from "./log.ts";
import { plainAddress } from "./session.ts";

const MIN_VERSION = "TLSv1.2";

/** The material of a mutually authenticated TLS listener (PEM). */
export interface TlsMaterial {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** The CA switch certificates must chain to. */
  readonly ca: string | Buffer;
  /** Revoked certificates (`icsdn controller pki revoke`); none when absent. */
  readonly crl?: Buffer | undefined;
  /** Where the CRL is kept: watched, and reloaded when it changes (and on `reloadCrl`). */
  readonly crlFile?: string | undefined;
}

/**
 * One listening socket for switches, plain TCP or TLS. With TLS every switch must present a
 * certificate signed by `ca` and not revoked by the CRL (OVS: `ovs-vsctl set-ssl key cert
 * cacert`); one without is refused during the TLS handshake, before any OpenFlow byte is read.
 * A refused TLS handshake is reported to `failed` (logged in aggregate: anyone can cause one).
 */
export class OpenFlowListener {
  readonly transport: "tcp" | "tls";
  readonly #server: Server;
  readonly #tls: TlsMaterial | undefined;
  readonly #at: ListenAddress;
  #listening = false;

  constructor(
    at: ListenAddress,
    tls: TlsMaterial | undefined,
    options: {
      maxConnections: number;
      handshakeTimeoutMs: number;
      log: OfLog;
      failed: (f: HandshakeFailure) => void;
    },
    onSocket: (socket: Socket, transport: "tcp" | "tls") => void,
  ) {
    this.#at = at;
    this.#tls = tls;
    this.transport = tls ? "tls" : "tcp";
    if (tls) {
      const server = createTlsServer({
        key: tls.key,
        cert: tls.cert,
        ca: tls.ca,
        ...(tls.crl && { crl: tls.crl }),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: MIN_VERSION,
        handshakeTimeout: options.handshakeTimeoutMs,
      });
      server.on("secureConnection", (s: TLSSocket) => onSocket(s, "tls"));
      server.on("tlsClientError", (err, s) => {
        // By then the TLS socket has let go of its address; the TCP socket under it still has it.
        const raw = (s as TLSSocket & { _parent?: Socket })._parent ?? s;
        options.failed({
          transport: "tls",
          remote: `${plainAddress(raw.remoteAddress)}:${raw.remotePort ?? 0}`,
          reason: `TLS client refused (no valid certificate from our CA, or a revoked one?): ${err.message.trim()}`,
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

  /**
   * Puts a new CRL in force for the connections accepted from now on (open sessions keep theirs).
   * Throws on a CRL that TLS cannot use; the old one then stays.
   */
  setCrl(crl: Buffer): void {
    if (!this.#tls) throw new Error("setCrl: not a TLS listener");
    const { key, cert, ca } = this.#tls;
    // The whole secure context is replaced: everything createTlsServer took for it again.
    (this.#server as TlsServer).setSecureContext({ key, cert, ca, crl, minVersion: MIN_VERSION });
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
