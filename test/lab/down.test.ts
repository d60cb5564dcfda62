/**
 * `lab down` after the lab daemon was killed with SIGKILL removes everything the lab made: no
 * namespaces, no OVS processes of its VMs, no mininet shells, no links, no state folder.
 */
import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { names } from "../../lab/plan.ts";
import { type LabState, labDir, statePath } from "../../lab/state.ts";
import { Lab, netnsList, processesMatching, rootLinks } from "./helpers.ts";

const lab = new Lab("tk");
const prefix = names("tk").prefix;
const dir = labDir("tk");

describe("lab down", () => {
  afterAll(async () => {
    await lab.down();
  }, 60_000);

  it("cleans everything after the lab daemon was SIGKILLed", async () => {
    await lab.down();
    await lab.up("--clouds", "2", "--vms", "1", "--nics", "2", "--wan-mbit", "50");
    const state = JSON.parse(readFileSync(statePath(dir), "utf8")) as LabState;
    const daemon = state.daemon.pid!;
    // Leave something running inside a VM too, as a person using 'lab exec' might.
    await lab.exec("vm1", ["sh", "-c", "sleep 317 >/dev/null 2>&1 &"]);
    expect((await processesMatching(`${dir}/`)).length).toBeGreaterThanOrEqual(4); // 2 x (ovsdb-server, ovs-vswitchd)
    expect(await processesMatching(`mininet:${prefix}`)).not.toHaveLength(0);

    process.kill(daemon, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    const st = await lab.status();
    expect(st.daemon.alive).toBe(false);
    // The VMs' namespaces and OVS outlive the daemon: 'lab exec' still works, until 'lab down'.
    expect((await lab.exec("vm1", ["ovs-vsctl", "br-exists", "icbr0"], { check: false })).code).toBe(0);

    await lab.down();
    expect((await netnsList()).filter((n) => n.startsWith(prefix))).toEqual([]);
    for (const ns of state.netns) expect(await netnsList()).not.toContain(ns);
    expect(await processesMatching(`mininet:${prefix}`)).toEqual([]);
    expect(await processesMatching(`${dir}/`)).toEqual([]);
    expect(await processesMatching("sleep 317")).toEqual([]);
    const links = await rootLinks();
    expect(links.filter((l) => l.startsWith(prefix))).toEqual([]);
    for (const l of state.rootLinks) expect(links).not.toContain(l);
    expect(existsSync(dir)).toBe(false);
  }, 90_000);

  it("refuses a second lab while one is up", async () => {
    await lab.up("--clouds", "1", "--vms", "0");
    const other = new Lab("tk2");
    const res = await other.lab(["up"], { check: false });
    expect(res.code).toBe(4); // LAB_EXISTS: EXIT.CONFLICT
    expect(res.stderr).toContain("LAB_EXISTS");
    await lab.down();
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
