import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { requirePart } from "./parts.ts";

const ovs = requirePart("ovs");

describe.skipIf(!ovs)("private OVS daemons", () => {
  it("are stopped and their dir removed when the process that started them is SIGKILLed", async () => {
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { startOvsDaemons } = await import(${JSON.stringify(join(import.meta.dirname, "ovs-daemons.ts"))});
         const d = startOvsDaemons({ prefix: "icsdn-ovs-reap-", dummyDatapath: true });
         console.log(d.dir);
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const dir = await new Promise<string>((resolve) =>
      child.stdout.once("data", (b: Buffer) => resolve(b.toString().trim())),
    );
    const pids = ["ovs-vswitchd.pid", "ovsdb-server.pid"].map((f) =>
      Number(readFileSync(join(dir, f), "utf8")),
    );
    const alive = (pid: number) =>
      existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
    expect(pids.every(alive)).toBe(true);
    child.kill("SIGKILL");
    const deadline = Date.now() + 15_000;
    while (existsSync(dir) && Date.now() < deadline) await sleep(200);
    expect(existsSync(dir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
  }, 30_000);
});
