/**
 * Linking: apply waits for icbr0 to connect to a controller (a tiny OpenFlow listener on the
 * host end of the sandbox's veth; the namespace cannot reach the host's loopback) and reports
 * the linking time; without a reachable controller it gives up after its timeout.
 */
import { afterEach, describe, expect, it } from "vitest";
import { datapathIdFor } from "../../contract/dataplane/index.ts";
import { apply, status, teardown } from "../../vm-init/index.ts";
import { configFor, links, targetOf, v4 } from "./helpers.ts";
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
    const nstat = await sb.exec("nstat", ["-az", "TcpInCsumErrors"]);
    expect(Number(/TcpInCsumErrors\s+(\d+)/.exec(nstat.stdout)?.[1])).toBeGreaterThan(0);
    await teardown(configFor(sb), targetOf(sb));
  });
});
