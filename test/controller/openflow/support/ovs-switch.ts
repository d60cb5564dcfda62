import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatDpid } from "../../../../contract/dataplane/index.ts";
import { startOvsDaemons, stopAllOvsDaemons } from "../../../support/ovs-daemons.ts";

/**
 * A private Open vSwitch playing one VM's icbr0 (files in a temp dir, nothing shared with the
 * system's OVS or the lab's): enc0 (vxlan, remote_ip=flow, key=flow) as ofport 1, vint0
 * (internal) as ofport 2, fail_mode=secure, OpenFlow 1.3, the member's dpid, and a controller
 * target it connects to actively (tcp: or ssl:). ovs-vswitchd runs with OVS's dummy datapath
 * (as OVS's own testsuite does): the OpenFlow side is the real one, while no tap device is
 * created, so several instances live side by side in this network namespace. Names are unique
 * per instance anyway. `stopAllOvs()` (afterEach) and an exit hook remove what a failed test left.
 */
export interface OvsSwitch {
  readonly dir: string;
  readonly bridge: string;
  readonly dpid: bigint;
  /** `ovs-ofctl -O OpenFlow13 dump-flows`, one line per flow, the reply header dropped. */
  dumpFlows(): string[];
  vsctl(...args: string[]): string;
  ofctl(...args: string[]): string;
  /** Freezes ovs-vswitchd (SIGSTOP), as a switch that hangs; `resume` thaws it. */
  pause(): void;
  resume(): void;
  stop(): void;
}

export interface OvsSwitchOptions {
  readonly dpid: bigint;
  /** `tcp:127.0.0.1:PORT` or `ssl:127.0.0.1:PORT`. */
  readonly target: string;
  /** For ssl: targets: the switch's key, certificate and the CA it trusts for the controller. */
  readonly ssl?: { readonly key: string; readonly cert: string; readonly ca: string };
  /** Bridge `protocols` (default OpenFlow13). */
  readonly protocols?: string;
}

export function startOvsSwitch(options: OvsSwitchOptions): OvsSwitch {
  const ovs = startOvsDaemons({ prefix: "icsdn-ofovs-", dummyDatapath: true });
  const tag = randomBytes(3).toString("hex");
  const bridge = `ofb${tag}`;
  const { vsctl, ofctl } = ovs;
  const sw: OvsSwitch = {
    ...ovs,
    bridge,
    dpid: options.dpid,
    dumpFlows: () =>
      ofctl("dump-flows", bridge)
        .split("\n")
        .filter((l) => l.startsWith(" ")),
  };
  try {
    if (options.ssl) vsctl("set-ssl", options.ssl.key, options.ssl.cert, options.ssl.ca);
    vsctl(
      "add-br",
      bridge,
      "--",
      "set",
      "bridge",
      bridge,
      "datapath_type=dummy",
      `protocols=${options.protocols ?? "OpenFlow13"}`,
      "fail_mode=secure",
      `other-config:datapath-id=${formatDpid(options.dpid)}`,
      "other-config:disable-in-band=true",
      "--",
      "add-port",
      bridge,
      `ofe${tag}`,
      "--",
      "set",
      "interface",
      `ofe${tag}`,
      "type=vxlan",
      "options:remote_ip=flow",
      "options:key=flow",
      "ofport_request=1",
      "--",
      "add-port",
      bridge,
      `ofv${tag}`,
      "--",
      "set",
      "interface",
      `ofv${tag}`,
      "type=internal",
      "ofport_request=2",
      "--",
      "set",
      "bridge",
      bridge,
      "controller=@c",
      "--",
      "--id=@c",
      "create",
      "controller",
      `target="${options.target}"`,
      // Come back within a second after a controller restart.
      "max_backoff=1000",
    );
    return sw;
  } catch (err) {
    sw.stop();
    throw err;
  }
}

/** Stops every private OVS still running (call in afterEach; also runs at exit). */
export const stopAllOvs = stopAllOvsDaemons;

/** Flow lines without the counters that change by themselves (duration, packets, bytes, idle age). */
export function stableFlows(lines: readonly string[]): string[] {
  return lines
    .map((l) =>
      l
        .replace(/ duration=[^,]+,/, "")
        .replace(/ n_packets=\d+,/, "")
        .replace(/ n_bytes=\d+,/, "")
        .replace(/ idle_age=\d+,/, "")
        .trim(),
    )
    .sort();
}

/** Each flow's duration in seconds, keyed by the flow without counters. */
export function durations(lines: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = / duration=([\d.]+)s,/.exec(l);
    if (m) out.set(stableFlows([l])[0]!, Number(m[1]));
  }
  return out;
}

/** What `ovs-ofctl add-flows` makes of our own text form of the compiled rules, on a scratch bridge. */
export function referenceFlows(sw: OvsSwitch, rules: readonly string[]): string[] {
  const bridge = `ref${sw.bridge.slice(3)}`;
  sw.vsctl(
    "--may-exist",
    "add-br",
    bridge,
    "--",
    "set",
    "bridge",
    bridge,
    "datapath_type=dummy",
    "fail_mode=secure",
  );
  sw.ofctl("del-flows", bridge);
  const file = join(sw.dir, "reference.flows");
  writeFileSync(file, `${rules.join("\n")}\n`);
  sw.ofctl("add-flows", bridge, file);
  return stableFlows(
    sw
      .ofctl("dump-flows", bridge)
      .split("\n")
      .filter((l) => l.startsWith(" ")),
  );
}
