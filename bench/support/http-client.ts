import { Worker } from "node:worker_threads";
import type { ClientAnswer, ClientRequest } from "./http-client-worker.ts";

/**
 * A bench's HTTP client on a thread of its own (http-client-worker.ts), when the controller it
 * measures runs in the bench's process: fetching and parsing a 5,000-switch answer on the
 * controller's thread would count as the controller's event-loop delay, work and allocations.
 * Only the request and its time cross between the threads.
 */
export class HttpClientThread {
  readonly #worker = new Worker(new URL("./http-client-worker.ts", import.meta.url));
  readonly #pending = new Map<number, PromiseWithResolvers<number>>();
  #nextId = 0;

  constructor() {
    this.#worker.on("message", (answer: ClientAnswer) => {
      const pending = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      if ("ms" in answer) pending?.resolve(answer.ms);
      else pending?.reject(new Error(answer.error));
    });
    this.#worker.on("error", (err) => {
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    });
  }

  /** See http-client-worker.ts's call(): the request's milliseconds, or a rebind's totalMs. */
  call(base: string, method: string, path: string, body?: unknown): Promise<number> {
    const id = ++this.#nextId;
    const answer = Promise.withResolvers<number>();
    this.#pending.set(id, answer);
    this.#worker.postMessage({
      id,
      base,
      method,
      path,
      ...(body !== undefined && { body }),
    } satisfies ClientRequest);
    return answer.promise;
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }
}
