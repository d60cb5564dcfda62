import type { VmInitConfig } from "./config.ts";
import { waitForController } from "./controller-wait.ts";
import { desiredKernel, desiredOvs, type UnderlayFacts } from "./desired.ts";
import { VmInitError } from "./errors.ts";
import { ipBatch, readKernel } from "./ip.ts";
import { planIp } from "./ip-plan.ts";
import type { KernelObserved, OvsObserved, OvsState } from "./model.ts";
import { vint0Mtu } from "./mtu.ts";
import { BOND_BRIDGE, CLUSTER_BRIDGE, VINT } from "./names.ts";
import { txChecksumOff } from "./offload.ts";
import { checkOvsReachable, ovsTransaction, readOvs } from "./ovs.ts";
import { type OvsCommand, type OvsPlan, planControllerRestart, planOvs } from "./ovs-plan.ts";
import { preflight } from "./preflight.ts";
import { kernelAsBefore, ownBridges, touchedDevices } from "./restore.ts";
import { Shell, type Target } from "./shell.ts";

export interface ApplyResult {
  /** False when the machine already matched the config (nothing written). */
  changed: boolean;
  /**
   * DESIGN.md's linking time: from the start of this network step until vint0, enc0, icbr0 and
   * icbond0 are configured and icbr0 is connected to a controller. Null when it did not connect.
   */
  linkingMs: number | null;
  /** From the start until everything was configured (the connection not awaited). */
  configuredMs: number;
  controllerConnected: boolean;
  controllerTarget: string | null;
  /** icbr0's datapath id as OVS reports it, 16 hex digits. */
  datapathId: string | null;
  underlay: { address: string; gateway: string | null; mtu: number };
  vint0: { address: string; mtu: number };
  changes: {
    ovsCommands: number;
    ipCommands: number;
    ethtoolCommands: number;
    ovsTransactions: number;
    /** Controllers were re-created to cut OVS's reconnection back-off short (a reboot). */
    controllerRestart: boolean;
  };
  timings: { readMs: number; ovsMs: number; ipMs: number; controllerMs: number };
  /** Child processes started, the verification read included. */
  spawns: number;
}

/**
 * Makes the machine match `config` with the fewest changes (see planOvs/planIp), measures the
 * linking time, and on any failure after the first change puts back what it changed.
 */
export async function apply(config: VmInitConfig, target: Target = {}): Promise<ApplyResult> {
  const t0 = performance.now();
  const sh = new Shell(target);
  const pid = await checkOvsReachable(sh);
  const [ovs, kernel] = await Promise.all([readOvs(sh), readKernel(sh)]);
  const tRead = performance.now();

  const facts = preflight(config, ovs, kernel);
  const wantOvs = desiredOvs(config, facts);
  const wantKernel = desiredKernel(config, facts);
  const plan = planOvs(wantOvs, ovs.state, ovs.uuids);
  let ipPlan = planIp(wantKernel, kernel);
  const restart = controllerRestart(wantOvs, ovs, ipPlan, plan, facts);
  // A controller must not be configured before icbr0 can reach it (see OvsPlan.controllerCommands).
  const split = ipPlan.length > 0 && (plan.controllerCommands.length > 0 || restart !== undefined);
  const txn1: OvsCommand[] = split ? plan.commands : [...plan.commands, ...plan.controllerCommands];
  const recreates = recreatesDevices(wantOvs, ovs.state);
  const offloadDevs = config.offload.txChecksum === "off" ? [...config.underlay.nics, VINT] : [];

  let touched = false;
  let transactions = 0;
  let tOvs = 0;
  let tIp = 0;
  const abort = new AbortController();
  try {
    if (txn1.length > 0) {
      // Set before the write: a transaction that timed out waiting for ovs-vswitchd did commit.
      touched = true;
      transactions++;
      await ovsTransaction(sh, txn1, { wait: true, what: "build icbond0, icbr0, enc0 and vint0" });
    }
    tOvs = performance.now();
    if (recreates) {
      // A new datapath type re-creates the internal devices, and their addresses with them.
      ipPlan = planIp(wantKernel, await readKernel(sh));
    }
    if (ipPlan.length > 0) touched = true;
    await Promise.all([ipBatch(sh, ipPlan), txChecksumOff(sh, offloadDevs)]);
    tIp = performance.now();
    if (restart) {
      transactions += 2;
      // restart.remove drops every controller row, so plan.controllerCommands is moot here.
      await ovsTransaction(sh, restart.remove, { wait: true, what: "drop icbr0's backed-off controllers" });
      await ovsTransaction(sh, restart.add, { wait: false, what: "set icbr0's controllers" });
    } else if (split) {
      transactions++;
      await ovsTransaction(sh, plan.controllerCommands, { wait: false, what: "set icbr0's controllers" });
    }
    const configuredAt = performance.now();

    const connecting = waitForController(config.controller.targets, {
      vswitchdPid: pid,
      timeoutMs: config.controller.connectTimeoutMs,
      signal: abort.signal,
    });
    const after = touched ? await readOvs(sh) : ovs;
    checkInterfaces(wantOvs, after);
    const conn = await connecting;
    const end = conn.at ?? configuredAt;
    return {
      changed: touched,
      linkingMs: conn.connected ? round(end - t0) : null,
      configuredMs: round(configuredAt - t0),
      controllerConnected: conn.connected,
      controllerTarget: conn.target ?? null,
      datapathId: after.datapathIds.get(CLUSTER_BRIDGE) ?? null,
      underlay: { address: facts.address, gateway: facts.gateway ?? null, mtu: facts.mtu },
      vint0: { address: config.vint0.address, mtu: vint0Mtu(facts.mtu, config.tunnel) },
      changes: {
        ovsCommands: plan.commands.length + plan.controllerCommands.length,
        ipCommands: ipPlan.length,
        ethtoolCommands: offloadDevs.length,
        ovsTransactions: transactions,
        controllerRestart: restart !== undefined,
      },
      timings: {
        readMs: round(tRead - t0),
        ovsMs: round(tOvs - tRead),
        ipMs: round(tIp - tOvs),
        controllerMs: conn.at === undefined ? 0 : round(conn.at - configuredAt),
      },
      spawns: sh.spawns,
    };
  } catch (err) {
    abort.abort();
    const cause = touched ? await explain(sh, wantOvs, err) : err;
    if (touched) await rollBack(sh, config, ovs, kernel, cause);
    throw cause;
  }
}

/**
 * An `ip` failure on a device OVS should have made is usually OVS's failure (no kernel module for
 * the system datapath, a device name taken): report OVS's own error for the interface instead.
 */
async function explain(sh: Shell, want: OvsState, err: unknown): Promise<unknown> {
  if (!(err instanceof VmInitError) || err.code !== "IP_COMMAND_FAILED") return err;
  try {
    checkInterfaces(want, await readOvs(sh));
  } catch (ovsErr) {
    if (ovsErr instanceof VmInitError) {
      return new VmInitError(ovsErr.code, `${ovsErr.message}; then: ${err.message}`, { cause: err });
    }
  }
  return err;
}

/** Puts vm-init's bridges and the touched devices back as they were before this apply. */
async function rollBack(
  sh: Shell,
  config: VmInitConfig,
  ovsBefore: OvsObserved,
  kernelBefore: KernelObserved,
  err: unknown,
): Promise<void> {
  try {
    const now = await readOvs(sh);
    const undo = planOvs(ownBridges(ovsBefore.state), now.state, now.uuids);
    // Not waited for: a failure may be ovs-vswitchd itself not answering; the database is what matters.
    await ovsTransaction(sh, [...undo.commands, ...undo.controllerCommands], {
      wait: false,
      what: "roll back the OVS changes",
    });
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
  if (plan.controllerCommands.some((c) => c.includes("create"))) return undefined;
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
