import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../mediation/model/token-bucket.ts";
import { pacedStream } from "../../mediation/runner/throttle.ts";

describe("paced streams sharing one bucket", () => {
  it("pass every byte unchanged, and two streams together take at least what the shared rate allows", async () => {
    // 400 KB/s with a 20 KB burst; two streams of 100 KB each: at least (200 - 20) / 400 s.
    const bucket = new TokenBucket(400_000, 20_000, performance.now());
    const inputs = [randomBytes(100_000), randomBytes(100_000)];
    const t0 = performance.now();
    const outputs = await Promise.all(
      inputs.map((data) =>
        buffer(Readable.from([data.subarray(0, 60_000), data.subarray(60_000)]).pipe(pacedStream(bucket))),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    expect(outputs.map((o, i) => o.equals(inputs[i]!))).toEqual([true, true]);
    expect(seconds).toBeGreaterThanOrEqual(((200_000 - 20_000) / 400_000) * 0.98);
  });
});
