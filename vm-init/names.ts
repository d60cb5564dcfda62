/**
 * The names DESIGN.md gives the in-VM layering. They are fixed: the controller's flows, the lab
 * and the documentation all refer to them.
 */
export const BOND_BRIDGE = "icbond0";
export const CLUSTER_BRIDGE = "icbr0";
export const VINT = "vint0";
export const ENC = "enc0";
/** The OVS port that groups two or more NICs (a Port name, not a kernel device, so no 15-char limit). */
export const BOND_PORT = "icbond0-nics";

/** external_ids key that marks a bridge as vm-init's own; its value is the cluster id. */
export const OWNER_KEY = "icsdn-vm-init";

export const MANAGED_BRIDGES: readonly string[] = [BOND_BRIDGE, CLUSTER_BRIDGE];
/** Names a NIC must not have: vm-init creates devices or ports with them. */
export const RESERVED_NAMES: readonly string[] = [BOND_BRIDGE, CLUSTER_BRIDGE, VINT, ENC, BOND_PORT];

/**
 * Controller reconnection back-off ceiling (ms), 1000 being the smallest OVS accepts. OVS applies
 * it only to a connection once up: one not up yet backs off to 8 s (redial.ts cuts that short).
 */
export const CONTROLLER_MAX_BACKOFF_MS = 1000;

/** Where Debian's Open vSwitch keeps its sockets and pidfiles when OVS_RUNDIR is not set. */
export const DEFAULT_OVS_RUNDIR = "/var/run/openvswitch";

/**
 * Order of names in vm-init's state (ports, interfaces, bridges, controller targets): by code
 * unit. Not String#localeCompare: its first call loads ICU's collator, 3-4 ms of a cold process's
 * linking time (measured with --cpu-prof), and these names are ASCII anyway.
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
