import { parentPort, workerData } from "node:worker_threads";
import { EmulatedNetwork } from "./dataplane.ts";
import { SwitchEmulator } from "./emulator.ts";
import type { EmulatorThreadRequest, EmulatorThreadSetup } from "./emulator-thread.ts";

// The emulator's own thread (see emulator-thread.ts): its switches do their work on another core
// than the controller's event loop, as real switches would.
const setup = workerData as EmulatorThreadSetup;
const port = parentPort!;
const network = setup.switches.some((s) => s.endpoint !== undefined)
  ? new EmulatedNetwork({ neighborDelayMs: setup.neighborDelayMs ?? 0 })
  : undefined;
const emu = new SwitchEmulator({ controller: setup.controller, ...(network && { network }) });
for (const s of setup.switches)
  emu.add({ dpid: s.dpid, ...(s.endpoint !== undefined && { endpoint: s.endpoint }) });

port.on("message", (m: EmulatorThreadRequest) => {
  if (m.type === "tables") {
    const tables = m.indexes.map((i) => [...(emu.switches[i]?.table.entries() ?? [])].map((e) => e.bytes));
    port.postMessage({ type: "tables", id: m.id, tables });
  } else if (m.type === "close") {
    emu.close();
    port.close();
  }
});

emu.connectAll({ concurrency: setup.concurrency ?? 100, timeoutMs: setup.timeoutMs ?? 60_000 }).then(
  () => port.postMessage({ type: "ready" }),
  (err: Error) => port.postMessage({ type: "failed", message: err.message }),
);
