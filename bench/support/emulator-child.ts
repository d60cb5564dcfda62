import { SwitchEmulator } from "../../controller/openflow/emulator/emulator.ts";

// Emulated switches in a process of their own, so the bench's process is the controller alone and
// its resident memory is the controller's. The first IPC message is the list of dpids (decimal
// strings); "ready" once all have connected; the parent's disconnect closes them.
process.once("message", (setup: { port: number; dpids: string[] }) => {
  const emu = new SwitchEmulator({ controller: { host: "127.0.0.1", port: setup.port } });
  for (const d of setup.dpids) emu.add({ dpid: BigInt(d) });
  process.once("disconnect", () => {
    emu.close();
    process.exit(0);
  });
  emu.connectAll({ concurrency: 100, timeoutMs: 900_000 }).then(
    () => process.send!("ready"),
    (err: Error) => process.send!(`failed: ${err.message}`),
  );
});
