import type { OfLog } from "./log.ts";

/** Addresses a summary line names at most. */
const MAX_REMOTES = 5;

export interface HandshakeFailure {
  readonly transport: "tcp" | "tls";
  /** "192.0.2.7:40112" */
  readonly remote: string;
  readonly reason: string;
}

/**
 * Connections that end before completing the OpenFlow (or TLS) handshake, logged in aggregate:
 * anyone who reaches the port can open them, so one line each would let them flood the log. The
 * first failure after a quiet interval is logged at once; the ones after it are counted, and each
 * interval that had any ends with one line (count, a few remote addresses, the last reason). So
 * at most one line per interval, however many connections. Every failure is counted by `count`
 * (a metric) at once.
 */
export class HandshakeFailureLog {
  readonly #log: OfLog;
  readonly #intervalMs: number;
  readonly #count: (transport: "tcp" | "tls") => void;
  #window: ReturnType<typeof setTimeout> | undefined;
  #pending = 0;
  #remotes = new Set<string>();
  #last: HandshakeFailure | undefined;

  constructor(options: { log: OfLog; intervalMs: number; count: (transport: "tcp" | "tls") => void }) {
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
    this.#count = options.count;
  }

  note(failure: HandshakeFailure): void {
    this.#count(failure.transport);
    if (this.#window === undefined) {
      this.#log.warn("connection closed before completing the handshake", {
        transport: failure.transport,
        remote: failure.remote,
        reason: failure.reason,
        nextSummaryInMs: this.#intervalMs,
      });
      this.#open();
      return;
    }
    this.#pending++;
    if (this.#remotes.size < MAX_REMOTES) this.#remotes.add(failure.remote);
    this.#last = failure;
  }

  /** Logs what is pending and stops the timer (the server is closing). */
  close(): void {
    clearTimeout(this.#window);
    this.#window = undefined;
    this.#flush();
  }

  #open(): void {
    this.#window = setTimeout(() => {
      this.#window = undefined;
      // A flood goes on: the next interval summarises it too. A quiet one closes the window.
      if (this.#flush()) this.#open();
    }, this.#intervalMs);
    this.#window.unref();
  }

  #flush(): boolean {
    if (this.#pending === 0) return false;
    this.#log.warn("connections closed before completing the handshake", {
      count: this.#pending,
      intervalMs: this.#intervalMs,
      remotes: [...this.#remotes],
      lastTransport: this.#last?.transport,
      lastReason: this.#last?.reason,
    });
    this.#pending = 0;
    this.#remotes = new Set();
    this.#last = undefined;
    return true;
  }
}
