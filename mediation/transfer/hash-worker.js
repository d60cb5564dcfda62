// The thread of OffThreadHasher (off-thread-hasher.ts): hashes the ring's slots in the order they
// are posted and hands each slot back with the digests of the chunks that ended in it. Plain
// JavaScript on purpose: a .ts worker loads Node's type stripper into the thread (+17 MB resident).
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";

const { ring, slotSize, imageHashAlgo, withMd5 } = workerData;
const bytes = Buffer.from(ring);
const whole = createHash(imageHashAlgo);
const md5 = withMd5 ? createHash("md5") : undefined;
let chunk = createHash("sha256");

parentPort.on("message", (m) => {
  if (m.type === "finish") {
    const digests = m.closeChunk ? [chunk.digest("hex")] : [];
    parentPort.postMessage({ type: "done", digests, whole: whole.digest("hex"), md5: md5?.digest("hex") });
    return;
  }
  const data = bytes.subarray(m.slot * slotSize, m.slot * slotSize + m.length);
  whole.update(data);
  md5?.update(data);
  const digests = [];
  let at = 0;
  for (const cut of m.cuts) {
    chunk.update(data.subarray(at, cut));
    digests.push(chunk.digest("hex"));
    chunk = createHash("sha256");
    at = cut;
  }
  if (at < data.length) chunk.update(data.subarray(at));
  parentPort.postMessage({ type: "free", slot: m.slot, digests });
});
