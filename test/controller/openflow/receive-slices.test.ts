import { describe, expect, it } from "vitest";
import {
  MAX_WAITING_BYTES,
  RECEIVE_SLICE_MS,
  ReceiveQueue,
} from "../../../controller/openflow/receive-slices.ts";

// What keeps the event loop moving at 5,000 switches: received work handled in bounded slices,
// in order per connection, with a bound on what may wait.

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const socket = () => ({
  paused: 0,
  resumed: 0,
  pause() {
    this.paused++;
  },
  resume() {
    this.resumed++;
  },
});

describe("received work", () => {
  it("runs at once within a turn's slice, then waits for a later turn, each connection's in order", async () => {
    await nextTurn();
    const a = new ReceiveQueue(socket());
    const b = new ReceiveQueue(socket());
    const ran: string[] = [];
    a.run(() => {
      ran.push("a1");
      spin(RECEIVE_SLICE_MS + 1);
    });
    expect(ran).toEqual(["a1"]);
    a.run(() => ran.push("a2"));
    b.run(() => ran.push("b1"));
    a.run(() => ran.push("a3"));
    // The slice is used up: nothing more ran in this turn.
    expect(ran).toEqual(["a1"]);
    await nextTurn();
    await nextTurn();
    expect(ran).toEqual(["a1", "a2", "a3", "b1"]);
    // A later turn has a slice of its own again.
    a.run(() => ran.push("a4"));
    expect(ran.at(-1)).toBe("a4");
  });

  it("stops reading a connection with too many bytes waiting, and reads again once they are handled", async () => {
    await nextTurn();
    const s = socket();
    const q = new ReceiveQueue(s);
    q.run(() => spin(RECEIVE_SLICE_MS + 1));
    const chunk = MAX_WAITING_BYTES / 4;
    for (let i = 0; i < 5; i++) q.run(() => {}, chunk);
    expect(q.waitingBytes).toBe(5 * chunk);
    expect(s.paused).toBe(1);
    for (let i = 0; i < 4 && q.waitingBytes > 0; i++) await nextTurn();
    expect(q.waitingBytes).toBe(0);
    expect(s.resumed).toBe(1);
  });
});
