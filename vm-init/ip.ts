import { VmInitError } from "./errors.ts";
import { IP_READ_BATCH, parseIpRead } from "./ip-observed.ts";
import type { KernelObserved } from "./model.ts";
import type { Shell } from "./shell.ts";

/** Devices, addresses and default routes in one `ip -j -batch` run. */
export async function readKernel(sh: Shell): Promise<KernelObserved> {
  const { stdout } = await sh.run("ip", sh.ipArgs(["-j", "-batch", "-"]), "IP_COMMAND_FAILED", {
    input: IP_READ_BATCH,
    what: "read network devices and routes",
  });
  return parseIpRead(stdout);
}

/** Runs `lines` as one `ip -batch`; it stops at the first failing line, which the error names. */
export async function ipBatch(sh: Shell, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  try {
    await sh.run("ip", sh.ipArgs(["-batch", "-"]), "IP_COMMAND_FAILED", {
      input: `${lines.join("\n")}\n`,
      what: "configure addresses and routes",
    });
  } catch (err) {
    // ip says "Command failed -:N"; name the line itself.
    if (err instanceof VmInitError && err.code === "IP_COMMAND_FAILED") {
      const n = /Command failed -:(\d+)/.exec(err.message);
      const line = n ? lines[Number(n[1]) - 1] : undefined;
      if (line !== undefined) {
        throw new VmInitError("IP_COMMAND_FAILED", `ip ${line}: ${err.message.replace(/\s+/g, " ")}`, {
          cause: err,
        });
      }
    }
    throw err;
  }
}
