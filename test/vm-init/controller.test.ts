/**
 * Linking: apply waits for icbr0 to connect to a controller (a tiny OpenFlow listener on the
 * host end of the sandbox's veth; the namespace cannot reach the host's loopback) and reports
 * the linking time; without a reachable controller it gives up after its timeout.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import { apply, status, teardown } from "../../vm-init/index.ts";
import { redial } from "../../vm-init/redial.ts";
import { cli, configFor, links, targetOf, v4 } from "./helpers.ts";
import { OfListener } from "./of-listener.ts";
import { createSandbox, destroyAllSandboxes } from "./ovs-sandbox.ts";

const listeners: OfListener[] = [];
afterEach(async () => {
  for (const l of listeners.splice(0)) await l.close();
  await destroyAllSandboxes();
});

async function listen(host: string): Promise<OfListener> {
  const l = await OfListener.start(host);
  listeners.push(l);
  return l;
}

/** A port on `host` where nothing listens: connections are refused at once. */
async function deadTarget(host: string): Promise<string> {
  const l = await OfListener.start(host);
  const port = l.port;
  await l.close();
  return `tcp:${host}:${port}`;
}

describe("linking", () => {
  it("apply connects icbr0 to the controller, reports the linking time, the controller sees the dpid", async () => {
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const ctl = await listen(host);
    const target = `tcp:${host}:${ctl.port}`;
    const config = configFor(sb, (c) => {
      c.controller = { targets: [target], connectTimeoutMs: 3000 };
    });
    const r = await apply(config, targetOf(sb));
    expect(r).toMatchObject({ controllerConnected: true, controllerTarget: target });
    expect(r.linkingMs).toBeGreaterThan(0);
    expect(r.linkingMs).toBeGreaterThanOrEqual(r.configuredMs);
    // The bridges were configured before the controller was: one transaction for them, one for it.
    expect(r.changes.ovsTransactions).toBe(2);

    const sw = await ctl.waitForSwitch(3000);
    expect(sw.datapathId).toBe(datapathIdFor(42, "198.18.0.1"));
    expect(sw.remoteAddress).toBe(sb.host!.vmCidr.split("/")[0]);

    const s = await status(targetOf(sb), config);
    expect(s.controllerConnected).toBe(true);
    expect(s.bridges.find((b) => b.name === "icbr0")?.controllers).toMatchObject([
      { target, socketEstablished: true },
    ]);

    // Applying again: already linked, nothing written.
    const again = await apply(config, targetOf(sb));
    expect(again).toMatchObject({ changed: false, controllerConnected: true });
  });

  it("with several targets, links to the one that answers", async () => {
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const ctl = await listen(host);
    const good = `tcp:${host}:${ctl.port}`;
    const r = await apply(
      configFor(sb, (c) => {
        c.controller = { targets: [good, "tcp:203.0.113.1:6653"], connectTimeoutMs: 3000 };
      }),
      targetOf(sb),
    );
    expect(r).toMatchObject({ controllerConnected: true, controllerTarget: good });
    expect((await sb.vsctl("get-controller", "icbr0")).split("\n").sort()).toEqual(
      [good, "tcp:203.0.113.1:6653"].sort(),
    );
  });

  it("no reachable controller: apply does not hang, reports controllerConnected:false", async () => {
    const sb = await createSandbox();
    const dead = await deadTarget(sb.host!.hostAddress);
    const t0 = performance.now();
    const r = await apply(
      configFor(sb, (c) => {
        c.controller = { targets: [dead], connectTimeoutMs: 500 };
      }),
      targetOf(sb),
    );
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r).toMatchObject({
      controllerConnected: false,
      controllerTarget: null,
      linkingMs: null,
      changed: true,
    });
    // Everything else is in place: the controller may come later.
    expect(await sb.vsctl("list-br")).toBe("icbond0\nicbr0");
  });

  it("redial: a controller reachable only after the apply gave up is reached within a second, not after OVS's backoff", async () => {
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const dead = await deadTarget(host);
    const config = configFor(sb, (c) => {
      c.controller = { targets: [dead], connectTimeoutMs: 200 };
    });
    expect((await apply(config, targetOf(sb))).controllerConnected).toBe(false);
    const redialing = redial(config, targetOf(sb), { forMs: 30_000 });
    // By now OVS alone dials every 8 s (refused at 0, 1, 3, 7 s, then 15 s): its next try is
    // about 6 s away when the controller comes up.
    await new Promise((r) => setTimeout(r, 9000));
    const ctl = await OfListener.start(host, Number(dead.split(":")[2]));
    listeners.push(ctl);
    const up = performance.now();
    const r = await redialing;
    expect(r).toMatchObject({ connected: true, target: dead });
    expect(performance.now() - up).toBeLessThan(1500);
    expect(r.redials).toBeGreaterThanOrEqual(7);
    expect((await ctl.waitForSwitch(3000)).datapathId).toBe(datapathIdFor(42, "198.18.0.1"));
    // The controller rows were set anew as they were.
    expect(await sb.vsctl("get-controller", "icbr0")).toBe(dead);
    expect(await sb.vsctl("--bare", "--columns=max_backoff", "list", "Controller")).toBe("1000");
  }, 60_000);

  it("apply through the CLI leaves a redial running when icbr0 did not connect; it ends once icbr0 does", async () => {
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const dead = await deadTarget(host);
    const file = join(sb.dir, "vm-init.json");
    writeFileSync(
      file,
      JSON.stringify(
        configFor(sb, (c) => {
          c.controller = { targets: [dead], connectTimeoutMs: 200 };
        }),
      ),
    );
    const a = await cli(sb, ["apply", "--config", file]);
    expect(a.exitCode).toBe(0);
    const pid = Number(
      /redialing its controllers in the background for 120 s \(pid (\d+)\)/.exec(a.stderr)?.[1],
    );
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      expect(alive()).toBe(true);
      const ctl = await OfListener.start(host, Number(dead.split(":")[2]));
      listeners.push(ctl);
      await ctl.waitForSwitch(3000);
      const deadline = Date.now() + 5000;
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(alive()).toBe(false);
    } finally {
      if (alive()) process.kill(pid, "SIGKILL");
    }
  }, 60_000);

  it("after a reboot with OVSDB intact, restarts OVS's backed-off connection instead of waiting it out", async () => {
    const sb = await createSandbox();
    const host = sb.host!.hostAddress;
    const ctl = await listen(host);
    const config = configFor(sb, (c) => {
      c.controller = { targets: [`tcp:${host}:${ctl.port}`], connectTimeoutMs: 5000 };
    });
    expect((await apply(config, targetOf(sb))).controllerConnected).toBe(true);

    // "Reboot": ovs-vswitchd restarts from its database; its devices come back without addresses,
    // so its first attempts to reach the controller fail and it backs off (1 s, then 2 s, ...).
    await sb.stopVswitchd();
    // OVS keeps its userspace taps across a daemon restart; a rebooted kernel would not.
    for (const dev of ["icbond0", "icbr0", "vint0", "ovs-netdev"]) await sb.ip("link", "del", dev);
    await sb.startVswitchd();
    await new Promise((r) => setTimeout(r, 1500));
    expect(v4((await links(sb)).get("icbond0"))).toEqual([]);

    const r = await apply(config, targetOf(sb));
    expect(r.changes.controllerRestart).toBe(true);
    expect(r.controllerConnected).toBe(true);
    expect(r.linkingMs).toBeLessThan(900);
  });

  it("after a reboot whose switch reached the controller over the NIC's boot address, keeps that connection", async () => {
    // A lab OpenStack VM's power cycle (lab/openstack/pylib/icsdn_lab.py): the NIC gets its
    // address and default route at boot (DHCP's), then ovs-vswitchd starts from its database and
    // connects over them before vm-init runs. vm-init moves the address to icbond0; the connection
    // outlives the move, so restarting it would only cut it and wait for a new one.
    const sb = await createSandbox();
    const host = sb.host!;
    const ctl = await listen(host.hostAddress);
    const bootAddress = async () => {
      await sb.ip("link", "set", "eth0", "arp", "on");
      await sb.ip("addr", "add", host.vmCidr, "dev", "eth0");
      await sb.ip("route", "add", "default", "via", host.hostAddress, "dev", "eth0");
    };
    await bootAddress();
    const config = configFor(sb, (c) => {
      c.underlay.address = "takeover";
      delete c.underlay.gateway;
      c.controller = { targets: [`tcp:${host.hostAddress}:${ctl.port}`], connectTimeoutMs: 5000 };
    });
    expect((await apply(config, targetOf(sb))).controllerConnected).toBe(true);
    await ctl.waitForSwitch(3000);

    await sb.stopVswitchd();
    for (const dev of ["icbond0", "icbr0", "vint0", "ovs-netdev"]) await sb.ip("link", "del", dev);
    await bootAddress();
    await sb.startVswitchd();
    const deadline = Date.now() + 5000;
    while (ctl.switches.filter((s) => s.datapathId !== undefined).length < 2 || ctl.openConnections !== 1) {
      if (Date.now() > deadline) throw new Error("ovs-vswitchd did not reconnect over eth0's address");
      await new Promise((r) => setTimeout(r, 20));
    }

    const r = await apply(config, targetOf(sb));
    expect(v4((await links(sb)).get("icbond0"))).toEqual([host.vmCidr]);
    expect(r.changes.controllerRestart).toBe(false);
    expect(r).toMatchObject({ controllerConnected: true, changed: true });
    // The same connection, still answering: no new HELLO, and OVS's echo requests get replies.
    expect(ctl.switches.length).toBe(2);
    expect(ctl.openConnections).toBe(1);
    await sb.exec("ping", ["-c", "1", "-W", "2", host.hostAddress]);
    const s = await status(targetOf(sb), config);
    expect(s.bridges.find((b) => b.name === "icbr0")?.controllers).toMatchObject([
      { socketEstablished: true },
    ]);
  });

  it("TCP into the VM needs tx checksums finished by the sender, not by the VM (why txChecksum defaults to keep)", async () => {
    // The host end leaves checksums to "hardware": the VM's stack drops the SYN-ACK after OVS's
    // userspace datapath forwards it unfinished. Turning offload off inside the VM does not help.
    const sb = await createSandbox({ hostTxOff: false });
    const host = sb.host!.hostAddress;
    const ctl = await listen(host);
    const r = await apply(
      configFor(sb, (c) => {
        c.controller = { targets: [`tcp:${host}:${ctl.port}`], connectTimeoutMs: 1500 };
        c.offload = { txChecksum: "off" };
      }),
      targetOf(sb),
    );
    expect(r.changes.ethtoolCommands).toBe(2);
    expect(r.controllerConnected).toBe(false);
    // -s: no history file (/tmp/.nstat.u0) left behind; -a: absolute counts need none.
    const nstat = await sb.exec("nstat", ["-asz", "TcpInCsumErrors"]);
    expect(Number(/TcpInCsumErrors\s+(\d+)/.exec(nstat.stdout)?.[1])).toBeGreaterThan(0);
    await teardown(configFor(sb), targetOf(sb));
  });
});
