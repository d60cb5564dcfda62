/** Acting inside lab nodes: run a command (interactive or captured), capture packets, pull a NIC's cable. */
import { spawn } from "node:child_process";
import { current, findVm, resolveTarget } from "./lookup.ts";
import { type RunResult, run, runIn } from "./sh.ts";
import { LabError, labDir, readState } from "./state.ts";

/** Runs `cmd` inside a lab node with the terminal's stdio; resolves to its exit code. */
export async function execInteractive(
  name: string,
  spec: string,
  cmd: readonly string[],
  timeoutMs?: number,
) {
  const state = readState(labDir(name));
  const t = resolveTarget(state, spec);
  const child = spawn("ip", ["netns", "exec", t.netns, ...cmd], {
    stdio: "inherit",
    env: { ...process.env, ...t.env },
  });
  const timer = timeoutMs ? setTimeout(() => child.kill("SIGTERM"), timeoutMs) : undefined;
  return new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, sig) => {
      if (timer) clearTimeout(timer);
      resolve(code ?? (sig === "SIGTERM" && timeoutMs ? 124 : 128));
    });
  });
}

/** Runs `cmd` inside a lab node and captures its output. */
export async function execCapture(
  name: string,
  spec: string,
  cmd: readonly string[],
  opts: { timeoutMs?: number; check?: boolean; input?: string } = {},
): Promise<RunResult> {
  const state = readState(labDir(name));
  const t = resolveTarget(state, spec);
  const [file, ...args] = cmd;
  if (file === undefined) throw new LabError("NO_COMMAND", "no command");
  return runIn(t.netns, file, args, {
    env: t.env,
    check: opts.check ?? true,
    timeoutMs: opts.timeoutMs,
    input: opts.input,
  });
}

/**
 * Captures up to `count` packets matching `filter` on `intf` of a lab node with tshark while
 * `during` runs (at most 10 s); returns tshark's lines (one-line summaries, or `fields` separated by spaces).
 */
export async function captureWhile(
  name: string,
  spec: string,
  intf: string,
  filter: string,
  count: number,
  during: () => Promise<unknown>,
  fields: readonly string[] = [],
): Promise<string[]> {
  const t = resolveTarget(readState(labDir(name)), spec);
  const args = [
    "netns",
    "exec",
    t.netns,
    "tshark",
    "-n",
    "-l",
    "-i",
    intf,
    "-f",
    filter,
    "-a",
    "duration:10",
  ];
  args.push("-c", String(count));
  if (fields.length) args.push("-T", "fields", ...fields.flatMap((f) => ["-e", f]), "-E", "separator=/s");
  const child = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new LabError("CAPTURE", `tshark did not start: ${stderr}`)),
      15_000,
    );
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("Capturing on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("close", () => {
      clearTimeout(timer);
      reject(new LabError("CAPTURE", `tshark exited: ${stderr}`));
    });
  });
  try {
    await during();
  } finally {
    const killer = setTimeout(() => child.kill("SIGINT"), 3_000);
    await exited;
    clearTimeout(killer);
  }
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Unplugs / plugs a VM NIC's cable: sets the root-side end of its veth down or up (the VM sees carrier loss). */
export async function setNic(
  name: string,
  vmSpec: string,
  nic: string,
  state: "up" | "down",
): Promise<string> {
  const lab = readState(labDir(name));
  const [vmName, cloudName] = vmSpec.split("@");
  const vm = findVm(lab, vmName ?? "");
  const inst = cloudName === undefined ? current(vm) : vm.instances.find((i) => i.cloud === cloudName);
  if (!inst) throw new LabError("NO_INSTANCE", `${vmSpec}: no such instance`);
  const found = inst.nics.find((x) => x.name === nic);
  if (!found)
    throw new LabError(
      "NO_NIC",
      `${vmSpec} has no NIC ${nic} (it has ${inst.nics.map((x) => x.name).join(", ")})`,
    );
  await run("ip", ["link", "set", found.rootPort, state]);
  return found.rootPort;
}
