import { setPriority } from "node:os";
import { EmulatedNetwork } from "./dataplane.ts";
import { SwitchEmulator } from "./emulator.ts";
import type {
  EmulatorProcessReply,
  EmulatorProcessRequest,
  EmulatorProcessSetup,
} from "./emulator-process.ts";

// The emulator's own process (see emulator-process.ts): its switches do their work with their own
// event loop, as real switches would. The first IPC message is the setup, then requests.
const send = (m: EmulatorProcessReply) => process.send!(m);

process.once("message", (setup: EmulatorProcessSetup) => {
  if (setup.nice !== undefined) setPriority(setup.nice);
  const network = setup.switches.some((s) => s.endpoint !== undefined)
    ? new EmulatedNetwork({ neighborDelayMs: setup.neighborDelayMs ?? 0 })
    : undefined;
  const emu = new SwitchEmulator({ controller: setup.controller, ...(network && { network }) });
  for (const s of setup.switches)
    emu.add({
      dpid: s.dpid,
      ...(s.endpoint !== undefined && { endpoint: s.endpoint }),
      ...(s.keepsTable !== undefined && { keepsTable: s.keepsTable }),
    });
  const floor = setup.floor && new SwitchEmulator({ controller: setup.floor });
  for (const s of floor ? setup.switches : []) floor!.add({ dpid: s.dpid });
  const closeAll = () => {
    emu.close();
    floor?.close();
  };

  process.on("message", (m: EmulatorProcessRequest) => {
    if (m.type === "tables") {
      const tables = m.indexes.map((i) => [...(emu.switches[i]?.table.entries() ?? [])].map((e) => e.bytes));
      send({ type: "tables", id: m.id, tables });
    } else if (m.type === "close") {
      closeAll();
      process.disconnect();
    }
  });
  // The parent gone (killed, crashed) takes the switches with it.
  process.once("disconnect", () => {
    closeAll();
    process.exit(0);
  });

  const connect = { concurrency: setup.concurrency ?? 100, timeoutMs: setup.timeoutMs ?? 60_000 };
  Promise.all([emu.connectAll(connect), floor?.connectAll(connect)]).then(
    () => send({ type: "ready" }),
    (err: Error) => send({ type: "failed", message: err.message }),
  );
});
