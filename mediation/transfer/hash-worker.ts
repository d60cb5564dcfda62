import { parentPort, workerData } from "node:worker_threads";
import { ManifestBuilder } from "./manifest.ts";
import type { HashWorkerInit, ToHashWorker } from "./off-thread-hasher.ts";

// The worker of OffThreadHasher: hashes the ring's slots in the order they are posted and hands
// each slot back once hashed; "finish" answers with the manifest.
const init = workerData as HashWorkerInit;
const port = parentPort!;
const builder = new ManifestBuilder(init.chunkSize, init.imageHashAlgo, init.withMd5);
const ring = Buffer.from(init.ring);

port.on("message", (m: ToHashWorker) => {
  if (m.type === "finish") {
    port.postMessage({ type: "manifest", manifest: builder.finish() });
    return;
  }
  const at = m.slot * init.slotSize;
  builder.update(ring.subarray(at, at + m.length));
  port.postMessage({ type: "free", slot: m.slot });
});
