/** `lab down`: removes everything a lab made, whether its daemon runs, was killed, or never started. */
import { existsSync, rmdirSync, rmSync } from "node:fs";
import { call } from "./daemon.ts";
import { deleteLink, listNetns, netnsPids, rootLinks } from "./inventory.ts";
import { type Logger, quiet } from "./log.ts";
import { names } from "./plan.ts";
import { isAlive, killAll, processes, run, sleep } from "./sh.ts";
import { labDir, stateRoot, tryReadState, withLock } from "./state.ts";

export interface DownReport {
  readonly processes: number[];
  readonly netns: string[];
  readonly links: string[];
  readonly dirRemoved: boolean;
}

/** Removes everything the lab made, whether its daemon runs, was killed, or never started. */
export async function down(name: string, log: Logger = quiet): Promise<DownReport> {
  const dir = labDir(name);
  if (!existsSync(dir)) return teardown(name, log);
  return withLock(dir, () => teardown(name, log), 30_000);
}

export async function teardown(name: string, log: Logger): Promise<DownReport> {
  const n = names(name);
  const dir = labDir(name);
  const state = tryReadState(dir);
  const killed: number[] = [];

  // 1. Polite: stop what runs in the VMs, then ask the daemon to stop mininet.
  const daemonPid = state?.daemon.pid ?? null;
  if (state && daemonPid !== null && isAlive(daemonPid)) {
    for (const vm of state.vms) {
      for (const inst of vm.instances) {
        killed.push(...(await killAll((await netnsPids(inst.netns)).filter((p) => p !== inst.pid))));
      }
    }
    await call(state.daemon.socket, { op: "stop" }, 5_000).catch(() => undefined);
    const deadline = Date.now() + 10_000;
    while (isAlive(daemonPid) && Date.now() < deadline) await sleep(50);
  }

  // 2. Whatever is left in our namespaces (named by the prefix, or recorded), then the namespaces.
  const nsNames = new Set([
    ...(state?.netns ?? []),
    ...(await listNetns()).filter((x) => x.startsWith(n.prefix)),
  ]);
  for (const ns of nsNames) {
    const pids = await netnsPids(ns);
    if (pids.length) killed.push(...(await killAll(pids, 1_000)));
  }
  const removedNs: string[] = [];
  for (const ns of nsNames) {
    const res = await run("ip", ["netns", "delete", ns], { check: false });
    if (res.code === 0) removedNs.push(ns);
  }

  // 3. Our processes by name: mininet shells of our nodes, anything started from our folder, the daemon.
  const ours = processes().filter(
    (p) =>
      p.pid !== process.pid &&
      (p.cmdline.includes(`mininet:${n.prefix}`) ||
        p.cmdline.includes(`${dir}/`) ||
        (daemonPid !== null && p.pid === daemonPid && p.cmdline.includes("labd.py"))),
  );
  if (ours.length)
    killed.push(
      ...(await killAll(
        ours.map((p) => p.pid),
        1_000,
      )),
    );

  // 4. Root-namespace links: bridges, and veth ends whose other end did not die with its namespace yet.
  const removedLinks: string[] = [];
  const deadline = Date.now() + 5_000;
  for (;;) {
    const links = new Set([
      ...(state?.rootLinks ?? []),
      ...(await rootLinks()).filter((l) => l.startsWith(n.prefix)),
    ]);
    const present = (await rootLinks()).filter((l) => links.has(l));
    if (present.length === 0 || Date.now() > deadline) break;
    for (const l of present) {
      if (await deleteLink(l)) removedLinks.push(l);
    }
    await sleep(50);
  }

  // 5. The folder (state, VM folders with OVS databases and logs, daemon socket and log).
  const dirRemoved = existsSync(dir);
  rmSync(dir, { recursive: true, force: true });
  try {
    rmdirSync(stateRoot()); // only when no other lab's folder is left in it
  } catch {
    // not empty, or already gone
  }
  const report = {
    processes: [...new Set(killed)],
    netns: removedNs,
    links: [...new Set(removedLinks)],
    dirRemoved,
  };
  log(
    `lab '${name}' down: ${report.processes.length} processes, ${report.netns.length} namespaces, ${report.links.length} links removed`,
  );
  return report;
}

/** What of a lab's is on the machine, found by its prefix alone (no state file needed). */
export async function leftovers(
  name: string,
): Promise<{ netns: string[]; links: string[]; processes: number[] }> {
  const prefix = names(name).prefix;
  const dirMark = labDir(name);
  return {
    netns: (await listNetns()).filter((x) => x.startsWith(prefix)),
    links: (await rootLinks()).filter((l) => l.startsWith(prefix)),
    processes: processes()
      .filter((p) => p.cmdline.includes(`mininet:${prefix}`) || p.cmdline.includes(`${dirMark}/`))
      .map((p) => p.pid),
  };
}
