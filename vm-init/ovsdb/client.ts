import { createConnection, type Socket } from "node:net";
import { VmInitError } from "../errors.ts";
import { JsonSplitter } from "./json-stream.ts";
import { describeRpcError, encodeRequest, encodeResponse, parseMessage, type RpcId } from "./rpc.ts";

export interface OvsdbClientOptions {
  /** Milliseconds allowed to connect, and for each request unless it says otherwise. */
  timeoutMs: number;
  /** Longest message accepted (characters); default 64 Mi. */
  maxMessageChars?: number;
}

type Notify = (method: string, params: unknown[]) => void;

interface Pending {
  what: string;
  resolve: (result: unknown) => void;
  reject: (err: VmInitError) => void;
  timer: NodeJS.Timeout;
}

/**
 * One JSON-RPC connection to ovsdb-server's unix socket (RFC 7047): requests matched to their
 * responses by id, each with a timeout; "echo" answered (ovsdb-server's inactivity probe);
 * notifications ("update") handed to one listener. Any failure of the connection fails every
 * request in flight with a VmInitError naming what it was for, and the client stays failed.
 */
export class OvsdbClient {
  readonly path: string;
  readonly #sock: Socket;
  readonly #timeoutMs: number;
  readonly #splitter: JsonSplitter;
  readonly #pending = new Map<RpcId, Pending>();
  #nextId = 1;
  #notify: Notify | undefined;
  #onFailure: ((err: VmInitError) => void) | undefined;
  #failure: VmInitError | undefined;

  private constructor(path: string, sock: Socket, opts: OvsdbClientOptions) {
    this.path = path;
    this.#sock = sock;
    this.#timeoutMs = opts.timeoutMs;
    this.#splitter = new JsonSplitter(opts.maxMessageChars ?? 64 * 1024 * 1024);
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => this.#receive(chunk));
    sock.on("error", (err: NodeJS.ErrnoException) =>
      this.#fail(
        new VmInitError("OVS_UNAVAILABLE", `OVSDB connection ${path} failed: ${err.message}`, { cause: err }),
      ),
    );
    sock.on("close", () =>
      this.#fail(new VmInitError("OVS_UNAVAILABLE", `ovsdb-server closed the connection ${path}`)),
    );
  }

  /** Connects to the unix socket at `path`; OVS_UNAVAILABLE, naming the path, when nothing is there. */
  static connect(path: string, opts: OvsdbClientOptions): Promise<OvsdbClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ path });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(
          new VmInitError(
            "OVS_UNAVAILABLE",
            `ovsdb-server did not accept a connection on ${path} within ${opts.timeoutMs} ms`,
          ),
        );
      }, opts.timeoutMs);
      sock.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectError(path, err));
      });
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.removeAllListeners("error");
        resolve(new OvsdbClient(path, sock, opts));
      });
    });
  }

  /** Where notifications ("update", ...) go. */
  onNotification(fn: Notify): void {
    this.#notify = fn;
  }

  /** Called once when the connection ends, for whatever reason. */
  onFailure(fn: (err: VmInitError) => void): void {
    this.#onFailure = fn;
  }

  /** Sends `method(params)` and resolves with its result; rejects with the server's error. */
  request(
    method: string,
    params: readonly unknown[],
    what: string,
    timeoutMs = this.#timeoutMs,
  ): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new VmInitError("OVS_UNAVAILABLE", `ovsdb-server did not answer within ${timeoutMs} ms (${what})`),
        );
      }, timeoutMs);
      this.#pending.set(id, { what, resolve, reject, timer });
      this.#sock.write(encodeRequest(id, method, params));
    });
  }

  /** Fails anything still in flight and closes the socket. Safe to call twice. */
  close(): void {
    this.#fail(new VmInitError("OVS_UNAVAILABLE", `OVSDB connection ${this.path} closed by vm-init`));
  }

  /** The error that ended this connection, if it has ended. */
  get failure(): VmInitError | undefined {
    return this.#failure;
  }

  #receive(chunk: string): void {
    try {
      for (const text of this.#splitter.push(chunk)) this.#dispatch(text);
    } catch (err) {
      this.#fail(
        err instanceof VmInitError
          ? err
          : new VmInitError("OVSDB_PROTOCOL_ERROR", `OVSDB message handling failed: ${String(err)}`, {
              cause: err,
            }),
      );
    }
  }

  #dispatch(text: string): void {
    const m = parseMessage(text);
    if (m.kind === "response") {
      const p = this.#pending.get(m.id);
      if (!p) return; // answered after its timeout
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== null) {
        p.reject(
          new VmInitError("OVS_COMMAND_FAILED", `OVSDB refused to ${p.what}: ${describeRpcError(m.error)}`),
        );
      } else {
        p.resolve(m.result);
      }
    } else if (m.kind === "request") {
      // ovsdb-server's only request is its inactivity probe; echo its params back.
      if (m.method === "echo") this.#sock.write(encodeResponse(m.id, m.params));
      else this.#sock.write(JSON.stringify({ result: null, error: { error: "unknown method" }, id: m.id }));
    } else {
      this.#notify?.(m.method, m.params);
    }
  }

  #fail(err: VmInitError): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new VmInitError(err.code, `${err.message} (while waiting to ${p.what})`, { cause: err }));
    }
    this.#pending.clear();
    this.#sock.destroy();
    this.#onFailure?.(err);
  }
}

function connectError(path: string, err: NodeJS.ErrnoException): VmInitError {
  const why =
    err.code === "ENOENT"
      ? `Open vSwitch database socket ${path} not found: is ovsdb-server running? (set OVS_RUNDIR or --ovs-rundir)`
      : err.code === "ECONNREFUSED"
        ? `nothing accepts connections on the Open vSwitch database socket ${path}: is ovsdb-server running?`
        : `cannot connect to the Open vSwitch database socket ${path}: ${err.message}`;
  return new VmInitError("OVS_UNAVAILABLE", why, { cause: err });
}
