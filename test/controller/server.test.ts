import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningController, startController } from "../../controller/server.ts";
import { tempDir } from "./support/fixtures.ts";

const TOKEN = "socket-token-0123456789abcdef";
const icsdn = join(import.meta.dirname, "../../bin/icsdn");
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("controller over a real socket on 127.0.0.1", () => {
  it("serves the API and keeps state across a restart on the same database file", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const config = {
      dbPath: join(dir.path, "controller.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "token", token: TOKEN } as const,
    };
    let controller: RunningController = await startController(config);
    cleanups.push(() => controller.close());
    expect(controller.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    expect(await (await fetch(`${controller.url}/healthz`)).json()).toEqual({ status: "ok" });
    expect((await fetch(`${controller.url}/v1/clusters`)).status).toBe(401);
    const created = await fetch(`${controller.url}/v1/clusters`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        id: "web",
        vni: 42,
        tunnel: "vxlan",
        members: [{ vmId: "a", vint0: "198.18.0.1" }],
      }),
    });
    expect(created.status).toBe(201);
    // No OpenFlow listener yet: a rebind is refused, since the member's switch cannot be connected.
    const rebind = await fetch(`${controller.url}/v1/clusters/web/members/a/rebind`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ endpoint: "192.0.2.10" }),
    });
    expect(rebind.status).toBe(409);

    await controller.close();
    controller = await startController(config);
    const read = await fetch(`${controller.url}/v1/clusters/web`, { headers: auth });
    expect(await read.json()).toMatchObject({
      id: "web",
      members: [{ vmId: "a", dpid: "0000002ac6120001" }],
    });
  });

  it("refuses to start on a port in use, and closes the store", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const first = await startController({
      dbPath: join(dir.path, "a.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "none" },
    });
    cleanups.push(() => first.close());
    const port = Number(new URL(first.url).port);
    await expect(
      startController({
        dbPath: join(dir.path, "b.db"),
        listen: { host: "127.0.0.1", port },
        auth: { mode: "none" },
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe("icsdn controller serve", () => {
  function serve(args: string[]): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(icsdn, ["controller", "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    return new Promise((resolve, reject) => {
      let out = "";
      let err = "";
      child.stderr!.on("data", (d) => {
        err += String(d);
      });
      child.stdout!.on("data", (d) => {
        out += String(d);
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve({ child, url: m[1]! });
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${out}${err}`)));
    });
  }

  it("starts with a token file, answers, and stops cleanly on SIGTERM", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const tokenFile = join(dir.path, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const { child, url } = await serve([
      "--db",
      join(dir.path, "c.db"),
      "--listen",
      "127.0.0.1:0",
      "--token-file",
      tokenFile,
      "--openflow",
      "127.0.0.1:0",
      "--log-level",
      "silent",
    ]);
    expect((await fetch(`${url}/v1/clusters`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${url}/v1/clusters`)).status).toBe(401);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it.each([
    [["--listen", "127.0.0.1:0", "--insecure-no-auth"], /--db is required/],
    [["--db", "x.db", "--insecure-no-auth", "--token-file", "t"], /exclude each other/],
    [["--db", "x.db"], /no API token/],
    [["--db", "x.db", "--listen", "nowhere", "--insecure-no-auth"], /is not HOST:PORT/],
    [["--db", "x.db", "--bogus"], /Unknown option '--bogus'/],
  ])("refuses %j with a usage error", (args, message) => {
    const { ICSDN_CONTROLLER_TOKEN: _unset, ...env } = process.env;
    const res = spawnSync(icsdn, ["controller", "serve", ...args], { encoding: "utf8", env });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(message);
  });
});
