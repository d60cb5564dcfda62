import { accessSync, constants } from "node:fs";
import { TAKEOVER, type VmInitConfig } from "./config.ts";
import { connectedTargetNow, establishedNow, waitForController } from "./controller-wait.ts";
import { desiredKernel, desiredOvs, type UnderlayFacts } from "./desired.ts";
import { VmInitError } from "./errors.ts";
import { IpSession, ipBatch, readKernel } from "./ip.ts";
import { planIp } from "./ip-plan.ts";
import { type LinkingReport, reportLinking } from "./linking-report.ts";
import type { KernelObserved, LinkFacts, OvsObserved, OvsState } from "./model.ts";
import { vint0Mtu } from "./mtu.ts";
import { BOND_BRIDGE, CLUSTER_BRIDGE, VINT } from "./names.ts";
import { txChecksumOff } from "./offload.ts";
import { checkVswitchd, openOvs, vswitchdPidNow } from "./ovs.ts";
import { type OvsPlan, planControllerRestart, planOvs } from "./ovs-plan.ts";
import type { Operation } from "./ovsdb/transact.ts";
import type { VswitchDb } from "./ovsdb/vswitch.ts";
import { checkMachine, underlayFacts } from "./preflight.ts";
import { kernelAsBefore, ownBridges, touchedDevices } from "./restore.ts";
import { Shell, type Target } from "./shell.ts";
import { readLinkFacts } from "./sysfs.ts";

export interface ApplyResult {
  /** False when the machine already matched the config (nothing written). */
  changed: boolean;
  /**
   * DESIGN.md's linking time: from the start of this network step until vint0, enc0, icbr0 and
   * icbond0 are configured and icbr0 is connected to a controller. Null when it did not connect.
   */
  linkingMs: number | null;
  /** The linking time sent to the controller (controller.restUrl); null when not configured or not linked. */
  linkingReport: LinkingReport | null;
  /** From the start until everything was configured (the connection not awaited). */
  configuredMs: number;
  controllerConnected: boolean;
  controllerTarget: string | null;
  /** icbr0's datapath id as OVS reports it, 16 hex digits. */
  datapathId: string | null;
  underlay: { address: string; gateway: string | null; mtu: number };
  vint0: { address: string; mtu: number };
  changes: {
    /** OVSDB operations written (inserts, updates, mutations), not counting checks and next_cfg. */
    ovsCommands: number;
    ipCommands: number;
    ethtoolCommands: number;
    ovsTransactions: number;
    /** Controllers were re-created to cut OVS's reconnection back-off short (a reboot). */
    controllerRestart: boolean;
  };
  /**
   * Where the time went, in order: reading OVSDB and the devices; the bridge transaction until
   * ovs-vswitchd applied it (on a fresh machine ip starts and reads meanwhile); the addresses and
   * routes; ovs-vswitchd noticing icbond0 is up (netdev datapath only); the controller
   * transaction; from then until the connection was seen. They add up to linkingMs.
   */
  timings: {
    readMs: number;
    ovsMs: number;
    ipMs: number;
    linkUpMs: number;
    controllerTxnMs: number;
    controllerMs: number;
  };
  /** Child processes started (ip; ethtool when asked for). */
  spawns: number;
  /**
   * Where the devices were read from before OVS was written: sysfs on a fresh machine (OVS is
   * written while ip starts), else ip (a converged or rebooted machine, takeover mode).
   */
  devicesFrom: "sysfs" | "ip";
}

/**
 * Makes the machine match `config` with the fewest changes (see planOvs/planIp), measures the
 * linking time, and on any failure after the first change puts back what it changed.
 *
 * The critical path, for a fresh machine (no icbond0 yet) whose devices sysfs shows: one OVSDB
 * round trip (the monitor) and a sysfs read; the bridge transaction, answered once ovs-vswitchd
 * applied it, while the one ip process starts; ip reads the devices as OVS left them and makes
 * the address changes; the controller transaction; the wait for the TCP connection. Otherwise
 * (a converged or rebooted machine, takeover mode, sysfs not the target's) ip reads first, in
 * parallel with OVSDB, and the plan knows whether the controller may join the bridge transaction.
 */
export async function apply(config: VmInitConfig, target: Target = {}): Promise<ApplyResult> {
  const t0 = performance.now();
  const sh = new Shell(target);
  const opening = openOvs(sh.ovsRundir);
  // Takeover needs the NIC's address before anything is written: only ip has it.
  const links =
    config.underlay.address === TAKEOVER ? undefined : readLinkFacts(sh.netns, vswitchdPidNow(sh.ovsRundir));
  // A fresh machine: the devices OVS makes (icbond0, vint0) are not there yet.
  const early = links !== undefined && !links.has(BOND_BRIDGE) && !links.has(VINT) ? links : undefined;
  const ip = early ? undefined : IpSession.start(sh);
  const [dbRead, kernelRead] = await Promise.allSettled([opening, ip?.read()]);
  let pid: number;
  try {
    // The database's own error first: it says what is missing (the socket) most precisely.
    if (dbRead.status === "rejected") throw dbRead.reason;
    pid = checkVswitchd(sh.ovsRundir);
    if (kernelRead.status === "rejected") throw kernelRead.reason;
  } catch (err) {
    ip?.kill();
    if (dbRead.status === "fulfilled") dbRead.value.close();
    throw err;
  }
  const db = dbRead.value;
  const read: Read = early
    ? { early }
    : { ip: ip!, kernel: (kernelRead as PromiseFulfilledResult<KernelObserved>).value };
  try {
    return await applyWith(config, sh, db, pid, read, t0);
  } finally {
    ip?.kill();
    db.close();
  }
}

/** OVS would only log that it cannot read them, and the controller would never connect: refuse first. */
function checkTlsFiles(config: VmInitConfig): void {
  const tls = config.controller.tls;
  if (!tls) return;
  for (const [key, path] of Object.entries(tls)) {
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw new VmInitError(
        "TLS_FILE_UNREADABLE",
        `controller.tls.${key}: ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
        { field: `controller.tls.${key}` },
      );
    }
  }
}

/** What was read before planning: the devices from sysfs (fast path), or everything from ip. */
type Read = { early: ReadonlyMap<string, LinkFacts> } | { ip: IpSession; kernel: KernelObserved };

async function applyWith(
  config: VmInitConfig,
  sh: Shell,
  db: VswitchDb,
  pid: number,
  read: Read,
  t0: number,
): Promise<ApplyResult> {
  const ovs = db.observed();
  const tRead = performance.now();

  checkTlsFiles(config);
  const machine = checkMachine(config, ovs, "early" in read ? read.early : read.kernel.links);
  const facts = underlayFacts(config, "early" in read ? NO_KERNEL : read.kernel, machine);
  const wantOvs = desiredOvs(config, facts);
  const wantKernel = desiredKernel(config, facts);
  const plan = planOvs(wantOvs, ovs.state, ovs.uuids);
  // A controller must not be configured before icbr0 can reach it (see OvsPlan.controllerOps).
  // On the fast path icbond0 is new, so its address is still to come: the controller waits.
  let ipPlan = "early" in read ? undefined : planIp(wantKernel, read.kernel);
  let restart = ipPlan === undefined ? undefined : controllerRestart(wantOvs, ovs, ipPlan, plan, facts);
  const split =
    ipPlan === undefined || (ipPlan.length > 0 && (plan.controllerOps.length > 0 || restart !== undefined));
  const txn1: Operation[] = split ? plan.ops : [...plan.ops, ...plan.controllerOps];
  const recreates = recreatesDevices(wantOvs, ovs.state);
  const offloadDevs = config.offload.txChecksum === "off" ? [...config.underlay.nics, VINT] : [];

  let ip = "ip" in read ? read.ip : undefined;
  // The kernel as it was, for a rollback; unknown (and untouched) on the fast path until ip reads it.
  let kernelBefore = "kernel" in read ? read.kernel : undefined;
  let touched = false;
  let transactions = 0;
  let building: Promise<unknown> | undefined;
  let closing: Promise<unknown> | undefined;
  try {
    if (txn1.length > 0) {
      // Set before the write: a transaction that timed out waiting for ovs-vswitchd did commit.
      touched = true;
      transactions++;
      building = db.transact(txn1, { wait: true, what: "build icbond0, icbr0, enc0 and vint0", basis: ovs });
      building.catch(() => {}); // awaited below; not "unhandled" while ip reads
    }
    // Starting ip blocks this thread for a few milliseconds: done while ovs-vswitchd works.
    ip ??= IpSession.start(sh);
    if ("early" in read) {
      // Read while OVS builds: it does not touch the NICs' addresses or routes, and icbond0 and
      // vint0, which it creates, are planned as new (absent: brought up, addresses added).
      const kernel = await ip.read();
      checkSameNics(config, read.early, kernel);
      kernelBefore = onlyDevices(kernel, read.early);
      ipPlan = planIp(wantKernel, kernelBefore);
    }
    await building;
    const tOvs = performance.now();
    if (recreates) {
      // A new datapath type re-creates the internal devices, and their addresses with them.
      ipPlan = planIp(wantKernel, await ip.read());
    }
    restart = controllerRestart(wantOvs, ovs, ipPlan ?? [], plan, facts);
    // The switch already reached a controller (at a boot whose NIC had its address before this
    // step, over that address; the connection outlives the address's move to icbond0): nothing is
    // backing off, and a restart would cut a working connection and wait for a new one.
    if (restart && connectedTargetNow(config.controller.targets, pid) !== undefined) restart = undefined;
    const changes = ipPlan ?? [];
    if (changes.length > 0) touched = true;
    // OVS accepted the rows; did it build them? (The monitor already holds what it reported.)
    if (touched) checkInterfaces(wantOvs, db.observed());
    await Promise.all([ip.run(changes), txChecksumOff(sh, offloadDevs)]);
    // ip's exit is not awaited here: its answer after the changes said they all worked.
    closing = ip.close().catch((err: unknown) => err);
    const tIp = performance.now();
    if (config.datapath === "netdev" && changes.includes(`link set ${BOND_BRIDGE} up`)) {
      await icbond0SeenUp(db);
    }
    const tUp = performance.now();
    let establishedBefore = establishedNow(pid);
    if (restart) {
      transactions += 2;
      // restart.remove drops every controller row, so plan.controllerOps is moot here.
      await db.transact(restart.remove, {
        wait: true,
        what: "drop icbr0's backed-off controllers",
        basis: ovs,
      });
      // Counted once ovs-vswitchd closed the old connections: had one of them been up, its
      // replacement would bring the counter back to the earlier count, and the wait would only
      // see it at its next full check (50 ms later).
      establishedBefore = establishedNow(pid);
      await db.transact(restart.add, { wait: false, what: "set icbr0's controllers", basis: ovs });
    } else if (split && plan.controllerOps.length > 0) {
      transactions++;
      await db.transact(plan.controllerOps, { wait: false, what: "set icbr0's controllers", basis: ovs });
    }
    const configuredAt = performance.now();

    const controllerSet = restart !== undefined || (split && plan.controllerOps.length > 0);
    const conn = await waitForController(config.controller.targets, {
      vswitchdPid: pid,
      timeoutMs: config.controller.connectTimeoutMs,
      // Only a controller configured just now can have connected since; else look at once.
      ...(controllerSet && establishedBefore !== undefined ? { establishedBefore } : {}),
    });
    const ipExit = await closing;
    if (ipExit !== undefined) throw ipExit;
    const end = conn.at ?? configuredAt;
    const linkingMs = conn.connected ? round(end - t0) : null;
    // After the measurement: the report is not part of linking, and never fails the apply.
    const linkingReport =
      linkingMs !== null && config.controller.restUrl !== undefined
        ? await reportLinking(config.controller, config.clusterId, linkingMs)
        : null;
    return {
      changed: touched,
      linkingMs,
      linkingReport,
      configuredMs: round(configuredAt - t0),
      controllerConnected: conn.connected,
      controllerTarget: conn.target ?? null,
      datapathId: db.observed().datapathIds.get(CLUSTER_BRIDGE) ?? null,
      underlay: { address: facts.address, gateway: facts.gateway ?? null, mtu: facts.mtu },
      vint0: { address: config.vint0.address, mtu: vint0Mtu(facts.mtu, config.tunnel) },
      changes: {
        ovsCommands: plan.ops.length + plan.controllerOps.length,
        ipCommands: changes.length,
        ethtoolCommands: offloadDevs.length,
        ovsTransactions: transactions,
        controllerRestart: restart !== undefined,
      },
      timings: {
        readMs: round(tRead - t0),
        ovsMs: round(tOvs - tRead),
        ipMs: round(tIp - tOvs),
        linkUpMs: round(tUp - tIp),
        controllerTxnMs: round(configuredAt - tUp),
        controllerMs: conn.at === undefined ? 0 : round(conn.at - configuredAt),
      },
      spawns: sh.spawns,
      devicesFrom: "early" in read ? "sysfs" : "ip",
    };
  } catch (err) {
    ip?.kill();
    await closing;
    // A rollback must not race the transaction it undoes.
    await building?.catch(() => {});
    const cause = touched ? explain(db, wantOvs, err) : err;
    if (touched) await rollBack(sh, config, ovs, kernelBefore, cause);
    throw cause;
  }
}

const NO_KERNEL: KernelObserved = { links: new Map(), defaultRoutes: [] };

/** Longest wait for ovs-vswitchd to report icbond0 up; past it, apply carries on regardless. */
const LINK_UP_WAIT_MS = 1000;

/**
 * On the userspace datapath ovs-vswitchd delivers nothing to icbond0 (a tap) until it has seen,
 * by netlink, that icbond0 is up: it caches the flags and drops what it would send to a tap that
 * was down. A controller configured before that moment connects at once, but the ARP reply for
 * its next hop is dropped, and OVS gives the connection up after a second (measured: 1 apply in
 * 20-60). ovs-vswitchd writes the state it saw to OVSDB (Interface admin_state), which the monitor
 * passes on: that is the moment. Typically 0.1-2 ms.
 */
async function icbond0SeenUp(db: VswitchDb): Promise<void> {
  await db
    .waitFor(
      () => db.observed().interfaces.get(BOND_BRIDGE)?.adminState === "up",
      "ovs-vswitchd to see icbond0 up",
      LINK_UP_WAIT_MS,
    )
    .catch(() => {
      // Only slower: the controller's first connection may then time out and be retried.
    });
}

/**
 * sysfs and ip must agree on what the OVS plan used (the NICs, their MTUs and MACs): if a NIC
 * changed between the two reads, what was written may be wrong, so it is undone.
 */
function checkSameNics(
  config: VmInitConfig,
  early: ReadonlyMap<string, LinkFacts>,
  kernel: KernelObserved,
): void {
  for (const nic of config.underlay.nics) {
    const a = early.get(nic);
    const b = kernel.links.get(nic);
    if (!a || !b || a.mtu !== b.mtu || a.mac !== b.mac) {
      throw new VmInitError(
        "MACHINE_CHANGED",
        `NIC "${nic}" changed while vm-init was applying (sysfs: ${a ? `mtu ${a.mtu}, mac ${a.mac}` : "absent"}; ip: ${b ? `mtu ${b.mtu}, mac ${b.mac}` : "absent"}); apply again`,
      );
    }
  }
}

/** The kernel state restricted to devices that existed before (OVS made the others). */
function onlyDevices(kernel: KernelObserved, before: ReadonlyMap<string, LinkFacts>): KernelObserved {
  return {
    links: new Map([...kernel.links].filter(([name]) => before.has(name))),
    defaultRoutes: kernel.defaultRoutes.filter((r) => before.has(r.dev)),
  };
}

/**
 * An `ip` failure on a device OVS should have made is usually OVS's failure (no kernel module for
 * the system datapath, a device name taken): report OVS's own error for the interface instead.
 */
function explain(db: VswitchDb, want: OvsState, err: unknown): unknown {
  if (!(err instanceof VmInitError) || err.code !== "IP_COMMAND_FAILED") return err;
  try {
    checkInterfaces(want, db.observed());
  } catch (ovsErr) {
    if (ovsErr instanceof VmInitError) {
      return new VmInitError(ovsErr.code, `${ovsErr.message}; then: ${err.message}`, { cause: err });
    }
  }
  return err;
}

/**
 * Puts vm-init's bridges and the touched devices back as they were before this apply. Reads
 * afresh over a new connection and a new ip process: the failure may have been either of them.
 * No `kernelBefore`: ip had not changed anything yet.
 */
async function rollBack(
  sh: Shell,
  config: VmInitConfig,
  ovsBefore: OvsObserved,
  kernelBefore: KernelObserved | undefined,
  err: unknown,
): Promise<void> {
  try {
    const db = await openOvs(sh.ovsRundir);
    try {
      const now = db.observed();
      const undo = planOvs(ownBridges(ovsBefore.state), now.state, now.uuids);
      // Not waited for: a failure may be ovs-vswitchd itself not answering; the database is what matters.
      const ops = [...undo.ops, ...undo.controllerOps];
      if (ops.length > 0)
        await db.transact(ops, { wait: false, what: "roll back the OVS changes", basis: now });
    } finally {
      db.close();
    }
    if (kernelBefore === undefined) return;
    const kernelNow = await readKernel(sh);
    await ipBatch(sh, planIp(kernelAsBefore(kernelBefore, touchedDevices(config)), kernelNow));
  } catch (rbErr) {
    if (err instanceof VmInitError)
      err.rollbackError = rbErr instanceof Error ? rbErr : new Error(String(rbErr));
  }
}

/**
 * OVS accepted the rows; did it build them? After a waited-for transaction every bridge has a
 * datapath id and every interface an OpenFlow port number, unless OVS failed (and said why).
 */
function checkInterfaces(want: OvsState, after: OvsObserved): void {
  for (const b of want.bridges) {
    if (!after.datapathIds.has(b.name)) {
      const hint = b.datapathType === "system" ? " (is the openvswitch kernel module loaded?)" : "";
      throw new VmInitError(
        "INTERFACE_ERROR",
        `OVS could not open the ${b.datapathType} datapath for bridge "${b.name}"${hint}`,
      );
    }
    for (const p of b.ports) {
      for (const i of p.interfaces) {
        const s = after.interfaces.get(i.name);
        if (s?.error !== undefined || s?.ofport === undefined || s.ofport === -1) {
          throw new VmInitError(
            "INTERFACE_ERROR",
            `OVS could not set up interface "${i.name}" on ${b.name}: ${s?.error ?? "it has no OpenFlow port"}`,
          );
        }
      }
    }
  }
}

/**
 * The controllers were already configured, but icbond0 is only now getting its address: OVS has
 * been failing to connect and backing off (a reboot with OVSDB intact). Restart them.
 */
function controllerRestart(
  want: OvsState,
  ovs: OvsObserved,
  ipPlan: readonly string[],
  plan: OvsPlan,
  facts: UnderlayFacts,
): ReturnType<typeof planControllerRestart> | undefined {
  const wantBr = want.bridges.find((b) => b.name === CLUSTER_BRIDGE);
  const haveBr = ovs.state.bridges.find((b) => b.name === CLUSTER_BRIDGE);
  if (!wantBr || !haveBr || haveBr.controllers.length === 0 || wantBr.controllers.length === 0)
    return undefined;
  if (plan.controllerOps.some((op) => op.op === "insert")) return undefined;
  if (!ipPlan.includes(`addr add ${facts.address} dev ${BOND_BRIDGE}`)) return undefined;
  return planControllerRestart(wantBr, haveBr, ovs.uuids);
}

function recreatesDevices(want: OvsState, have: OvsState): boolean {
  return want.bridges.some((w) => {
    const h = have.bridges.find((b) => b.name === w.name);
    return h !== undefined && h.datapathType !== w.datapathType;
  });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
