import type { Socket } from "node:net";
import {
  decodeMessage,
  encodeMessage,
  MessageFramer,
  type OfpMessage,
  ProtoError,
} from "../../proto/index.ts";
import { ReceiveQueue } from "./receive-slices.ts";

/** Sockets corked in this turn of the event loop, uncorked by a setImmediate (see sendBytes). */
const corked = new Set<Socket>();

/**
 * Writes at most this long per turn: a system call per socket adds up (a thousand switches'
 * batches took 50 ms of writes on a loaded machine), and the rest can leave one turn later.
 */
const UNCORK_SLICE_MS = 2;

function uncorkAll(): void {
  const started = performance.now();
  for (const s of corked) {
    corked.delete(s);
    s.uncork();
    if (corked.size > 0 && performance.now() - started >= UNCORK_SLICE_MS) {
      setImmediate(uncorkAll);
      return;
    }
  }
}

/** Why a channel closed; `error` ones are the peer's or the network's fault and are logged as errors. */
export interface CloseReason {
  readonly reason: string;
  readonly error: boolean;
}

export interface ChannelHandlers {
  message(m: OfpMessage): void;
  /** A whole frame that does not decode; the handler decides whether the session survives it. */
  undecodable(error: ProtoError, bytes: Uint8Array): void;
  /** Called once, after the socket is destroyed. */
  closed(reason: CloseReason): void;
}

/**
 * One OpenFlow connection's bytes: frames and decodes what arrives, encodes and writes what we send.
 * What arrives is handled in slices shared by every connection (receive-slices.ts). Memory stays
 * bounded: the framer holds at most one partial message (64 KB), received bytes waiting for a
 * slice at most about 1 MB (then the socket stops reading), and the write queue at most
 * `maxWriteBuffer` bytes, beyond which the peer is considered stuck and dropped.
 */
export class OfChannel {
  readonly #socket: Socket;
  readonly #framer = new MessageFramer();
  readonly #handlers: ChannelHandlers;
  readonly #maxWriteBuffer: number;
  #closed = false;

  constructor(socket: Socket, options: { maxWriteBuffer: number }, handlers: ChannelHandlers) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#maxWriteBuffer = options.maxWriteBuffer;
    // Latency over throughput: a barrier must not wait for Nagle.
    socket.setNoDelay(true);
    // Every event goes through the queue, so that an end or error is handled after the data
    // that came before it.
    const received = new ReceiveQueue(socket);
    socket.on("data", (chunk: Buffer) => received.run(() => this.#receive(chunk), chunk.length));
    socket.on("end", () =>
      received.run(() => {
        const partial = this.#framer.buffered;
        if (partial > 0)
          this.close(`connection ended inside a message (${partial} bytes of it received)`, true);
        else this.close("the peer closed the connection", false);
      }),
    );
    socket.on("error", (err) => received.run(() => this.close(`socket error: ${err.message}`, true)));
    socket.on("close", () => received.run(() => this.close("socket closed", false)));
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(m: OfpMessage): void {
    this.sendBytes(encodeMessage(m));
  }

  sendBytes(bytes: Uint8Array): void {
    if (this.#closed) return;
    // Everything sent in one turn of the event loop leaves in one write: a rebind's priming
    // probes and, after the promise chain of an all-held prepare phase, its first batch (a
    // nextTick would flush between the two). With a thousand switches, system calls, not bytes,
    // are what a rebind waits for.
    if (!corked.has(this.#socket)) {
      this.#socket.cork();
      corked.add(this.#socket);
      if (corked.size === 1) setImmediate(uncorkAll);
    }
    this.#socket.write(bytes);
    if (this.#socket.writableLength > this.#maxWriteBuffer) {
      this.close(
        `${this.#socket.writableLength} bytes queued for the peer (limit ${this.#maxWriteBuffer}): it is not reading`,
        true,
      );
    }
  }

  /**
   * Resolves once at most `bytes` are queued for the peer (or the channel is closed): a large
   * batch's next slice waits for the switch to read the previous ones, so 250 switches programmed
   * at once do not hold their 2.6 MB each in memory together.
   */
  async queuedBelow(bytes: number): Promise<void> {
    while (!this.#closed && this.#socket.writableLength > bytes) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off("drain", done);
          this.#socket.off("close", done);
          resolve();
        };
        this.#socket.once("drain", done);
        this.#socket.once("close", done);
      });
    }
  }

  /** Sends `last` (if any) and closes once it is flushed (a HELLO_FAILED must reach the peer). */
  finish(reason: string, last?: OfpMessage): void {
    if (this.#closed) return;
    const socket = this.#socket;
    if (last) socket.end(encodeMessage(last));
    else socket.end();
    // A peer that never reads must not keep the socket: destroy soon regardless.
    setTimeout(() => socket.destroy(), 1_000).unref();
    this.#close({ reason, error: true });
  }

  /** Drops the connection now. */
  close(reason: string, error: boolean): void {
    if (this.#closed) return;
    this.#socket.destroy();
    this.#close({ reason, error });
  }

  #close(reason: CloseReason): void {
    this.#closed = true;
    this.#handlers.closed(reason);
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    let frames: Uint8Array[];
    try {
      // A plain Uint8Array view: proto's slice() then copies (Buffer#slice would alias the chunk).
      frames = this.#framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      const why = err instanceof ProtoError ? err.message : String(err);
      this.close(`not OpenFlow: ${why}`, true);
      return;
    }
    for (const bytes of frames) {
      if (this.#closed) return;
      let m: OfpMessage;
      try {
        m = decodeMessage(bytes);
      } catch (err) {
        // decodeMessage throws only ProtoError; anything else is a bug worth a loud close.
        const error = err instanceof ProtoError ? err : new ProtoError("BAD_VALUE", String(err));
        this.#handlers.undecodable(error, bytes);
        continue;
      }
      this.#handlers.message(m);
    }
  }
}
