import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import { clusterBars, progressLine } from "../../mediation/progress.ts";
import { type RunningMediation, startMediation } from "../../mediation/server.ts";

const icsdn = join(import.meta.dirname, "../../bin/icsdn");
const TOKEN = "cli-test-token-0123456789";

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(icsdn, args, { env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

describe("icsdn mediation / migrate / migrations", () => {
  const dir = mkdtempSync(join(tmpdir(), "icsdn-mcli-"));
  let service: RunningMediation;
  let env: Record<string, string>;

  beforeAll(async () => {
    // A cloud nobody answers for, and a controller that is not there: the pre-checks say both.
    const clouds = join(dir, "clouds.yaml");
    writeFileSync(
      clouds,
      "clouds:\n  nowhere-a:\n    auth: {auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: p}\n  nowhere-b:\n    auth: {auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: p}\n",
    );
    service = await startMediation({
      dbPath: join(dir, "j.db"),
      listen: { host: "127.0.0.1", port: 0 },
      auth: { mode: "token", token: TOKEN },
      controller: new ControllerClientPort({ url: "http://127.0.0.1:9", token: undefined }),
      env: { OS_CLIENT_CONFIG_FILE: clouds },
    });
    env = { ICSDN_MEDIATION_URL: service.url, ICSDN_MEDIATION_TOKEN: TOKEN };
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses malformed calls with usage (exit 2)", async () => {
    expect(await run(["migrate"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/one MEMBER is required/),
    });
    expect(await run(["migrate", "vm1", "--from", "a"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--from and --to are required/),
    });
    expect(await run(["migrate", "vm1", "--bogus"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/Unknown option '--bogus'/),
    });
    expect(await run(["migrations", "frob"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/usage: icsdn migrations/),
    });
    expect(await run(["mediation", "serve", "--db", join(dir, "x.db")])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--controller URL/),
    });
    const noKey = join(dir, "no-such-key");
    expect(
      await run([
        "mediation",
        "serve",
        "--db",
        join(dir, "y.db"),
        "--insecure-no-auth",
        "--controller",
        "http://127.0.0.1:9",
        "--ssh-key",
        noKey,
      ]),
    ).toMatchObject({ code: 2, err: expect.stringContaining(`--ssh-key: cannot read ${noKey}: ENOENT`) });
    expect(
      await run([
        "mediation",
        "serve",
        "--db",
        join(dir, "z.db"),
        "--insecure-no-auth",
        "--controller",
        "http://127.0.0.1:9",
        "--ssh-require-reported-host-key",
      ]),
    ).toMatchObject({
      code: 2,
      err: expect.stringContaining("--ssh-require-reported-host-key needs --ssh-key"),
    });
  });

  it("reports the service's refusals with their registered exit codes, naming the field", async () => {
    const unknown = await run(["migrate", "vm1", "--from", "mars", "--to", "nowhere-b"], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/INVALID_FIELD: source\.cloud: unknown cloud 'mars'/);
    const dry = await run(["migrate", "vm1", "--from", "nowhere-a", "--to", "nowhere-b", "--dry-run"], env);
    expect(dry.code).toBe(2);
    expect(dry.out).toMatch(/problem: source\.cloud: cloud 'nowhere-a': .*Keystone/);
    expect(dry.out).toMatch(/problem: member: the controller cannot be asked/);
    const refused = await run(["migrate", "vm1", "--from", "nowhere-a", "--to", "nowhere-b"], env);
    expect(refused.err).toMatch(/PRECHECK_FAILED/);
    expect(refused.code).toBe(2);
    expect(await run(["migrations", "show", "00000000-0000-0000-0000-000000000000"], env)).toMatchObject({
      code: 3,
    });
    expect(
      await run(["migrations", "list"], { ...env, ICSDN_MEDIATION_TOKEN: "wrong-token-0123456789" }),
    ).toMatchObject({ code: 77 });
    expect(await run(["migrations", "list"], env)).toMatchObject({ code: 0, out: "" });
  });

  it("migrate --cluster: usage errors, the plan's problems (exit 2), a refused apply creating nothing", async () => {
    expect(await run(["migrate", "--cluster", "c1"], env)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--to CLOUD is required with --cluster/),
    });
    expect(
      await run(["migrate", "--cluster", "c1", "--to", "nowhere-b", "--mode", "sideways"], env),
    ).toMatchObject({ code: 2, err: expect.stringMatching(/--mode must be atomic or rolling/) });
    expect(await run(["migrate", "vm1", "--cluster", "c1", "--to", "nowhere-b"], env)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--cluster takes no MEMBER/),
    });
    const plan = await run(["migrate", "--cluster", "c1", "--to", "nowhere-b", "--plan"], env);
    expect(plan.code).toBe(2);
    expect(plan.out).toMatch(/problem: cluster: the controller cannot be asked/);
    const refused = await run(["migrate", "--cluster", "c1", "--to", "nowhere-b", "--mode", "rolling"], env);
    expect(refused).toMatchObject({ code: 2, err: expect.stringMatching(/PRECHECK_FAILED/) });
    expect(service.journal.clusters.list()).toEqual([]);
  });

  it("draws one bar per member of a cluster migration, names aligned", () => {
    const m = { phase: "image_transfer", bytesDone: 50e6, bytesTotal: 200e6, rate: 25e6, eta: 6 };
    expect(
      clusterBars(
        [
          { member: "vm1", state: "preparing", ...m },
          {
            member: "db-primary",
            state: "verified",
            ...m,
            phase: "network_setup",
            bytesDone: 200e6,
            eta: null,
          },
        ],
        8,
      ),
    ).toEqual([
      "vm1        preparing image_transfer [##------]  25% 50.0 MB / 200.0 MB 25.0 MB/s ETA 6s",
      "db-primary verified  network_setup  [########] 100% 200.0 MB / 200.0 MB 25.0 MB/s",
    ]);
  });

  it("draws the progress line: phase, bar, bytes, rate, ETA", () => {
    expect(progressLine({ phase: "image_transfer", done: 50e6, total: 200e6, rate: 25e6, eta: 6 }, 8)).toBe(
      "image_transfer [##------]  25% 50.0 MB / 200.0 MB 25.0 MB/s ETA 6s",
    );
    expect(progressLine({ phase: "instantiation", done: 0, total: null, rate: 0, eta: null })).toBe(
      "instantiation  0.0 MB 0.0 MB/s",
    );
  });
});
