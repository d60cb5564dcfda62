import type { EventEmitter } from "node:events";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { JournalEvent } from "../journal/journal.ts";

/** Where an SSE stream reads its journaled events and learns that more came or that it ended. */
export interface EventSource {
  readonly id: string;
  eventsAfter(seq: number): readonly JournalEvent[];
  ended(): boolean;
  readonly emitter: EventEmitter<{ event: [string, JournalEvent] }>;
}

/** Server-Sent Events from Last-Event-ID on, live until the source ends (a journal replay first). */
export function streamEvents(request: FastifyRequest, reply: FastifyReply, source: EventSource): void {
  let last = Number(request.headers["last-event-id"] ?? 0) || 0;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const send = () => {
    for (const e of source.eventsAfter(last)) {
      res.write(
        `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ at: new Date(e.at).toISOString(), ...e.data })}\n\n`,
      );
      last = e.seq;
    }
    if (source.ended()) {
      stop();
      res.end();
    }
  };
  const onEvent = (id: string) => {
    if (id === source.id) send();
  };
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), 15_000);
  const stop = () => {
    clearInterval(keepalive);
    source.emitter.off("event", onEvent);
  };
  source.emitter.on("event", onEvent);
  request.raw.on("close", stop);
  send();
}
