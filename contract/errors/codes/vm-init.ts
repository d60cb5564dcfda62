import { type ErrorTable, EXIT } from "../spec.ts";

/** Why vm-init refused or failed (VmInitError). Its messages name the config field or the thing at fault. */
export const VM_INIT_ERRORS = {
  INVALID_CONFIG: {
    status: 400,
    exit: EXIT.CONFIG,
    summary: "the config file breaks the schema (see issues)",
  },
  CONFIG_UNREADABLE: {
    status: 400,
    exit: EXIT.CONFIG,
    summary: "the config file cannot be read or is not JSON",
  },
  NIC_MISSING: {
    status: 422,
    exit: EXIT.CONFIG,
    summary: "an underlay NIC named in the config does not exist",
  },
  NIC_IN_USE: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "an underlay NIC already belongs to an OVS bridge vm-init does not manage",
  },
  NIC_MTU_TOO_SMALL: {
    status: 422,
    exit: EXIT.CONFIG,
    summary: "underlay.mtu is larger than what a NIC carries",
  },
  NO_UNDERLAY_ADDRESS: {
    status: 422,
    exit: EXIT.CONFIG,
    summary: "takeover mode, but the first NIC has no IPv4 address to take",
  },
  AMBIGUOUS_UNDERLAY_ADDRESS: {
    status: 422,
    exit: EXIT.CONFIG,
    summary: "takeover mode, but the first NIC has several IPv4 addresses",
  },
  BRIDGE_CONFLICT: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "icbr0 or icbond0 exists but was not made by vm-init",
  },
  OVS_UNAVAILABLE: {
    status: 503,
    exit: EXIT.UNAVAILABLE,
    summary: "no OVS database socket, or ovsdb-server / ovs-vswitchd not running or not answering",
  },
  OVS_COMMAND_FAILED: {
    status: 502,
    exit: EXIT.UNAVAILABLE,
    summary: "OVSDB refused a transaction (the message names the operation and the row)",
  },
  OVS_CONFLICT: {
    status: 409,
    exit: EXIT.TEMPFAIL,
    summary: "OVSDB changed between vm-init's read and its write; nothing was written",
  },
  OVSDB_PROTOCOL_ERROR: {
    status: 502,
    exit: EXIT.PROTOCOL,
    summary: "ovsdb-server sent something that is not RFC 7047 JSON-RPC",
  },
  INTERFACE_ERROR: {
    status: 502,
    exit: EXIT.OS,
    summary: "OVS accepted a port but could not create its interface",
  },
  IP_COMMAND_FAILED: { status: 500, exit: EXIT.OS, summary: "iproute2 refused a change" },
  MACHINE_CHANGED: {
    status: 409,
    exit: EXIT.TEMPFAIL,
    summary: "a NIC changed while apply was running (it rolled back)",
  },
  ETHTOOL_FAILED: { status: 500, exit: EXIT.OS, summary: "ethtool could not change an offload setting" },
  COMMAND_NOT_FOUND: { status: 500, exit: EXIT.OS, summary: "ip or ethtool is not installed" },
  TLS_FILE_UNREADABLE: {
    status: 400,
    exit: EXIT.CONFIG,
    summary: "a controller.tls file is missing or unreadable",
  },
} as const satisfies ErrorTable;
