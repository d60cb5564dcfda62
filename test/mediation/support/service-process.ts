import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const BIN = join(import.meta.dirname, "../../../bin/icsdn");
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** `icsdn mediation serve` as its own process, so a test can `kill -9` it. */
export interface ServiceProcess {
  readonly url: string;
  readonly pid: number;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServiceProcess(options: {
  db: string;
  controller: string;
  token: string;
  switchTimeoutS: number;
  env: Record<string, string>;
}): Promise<ServiceProcess> {
  const child = spawn(
    BIN,
    [
      "mediation",
      "serve",
      "--db",
      options.db,
      "--listen",
      "127.0.0.1:0",
      "--controller",
      options.controller,
      "--log-level",
      "warn",
      "--switch-timeout",
      String(options.switchTimeoutS),
    ],
    {
      env: { ...process.env, ...options.env, ICSDN_MEDIATION_TOKEN: options.token },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  live.add(child);
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mediation did not start: ${err}`)), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`mediation exited ${code}: ${err}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    url,
    pid: child.pid!,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
      live.delete(child);
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
      live.delete(child);
    },
  };
}
