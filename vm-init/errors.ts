/** Why vm-init refused or failed. The message always names the config field or the thing at fault. */
export type VmInitErrorCode =
  | "INVALID_CONFIG" // the config file breaks the schema (see `issues`)
  | "CONFIG_UNREADABLE" // the config file cannot be read or is not JSON
  | "INVALID_ARGUMENT" // a library caller passed a bad value (e.g. to datapathIdFor)
  | "NIC_MISSING" // an underlay NIC named in the config does not exist
  | "NIC_IN_USE" // an underlay NIC already belongs to an OVS bridge vm-init does not manage
  | "NIC_MTU_TOO_SMALL" // underlay.mtu is larger than what a NIC carries
  | "NO_UNDERLAY_ADDRESS" // takeover mode, but the first NIC has no IPv4 address to take
  | "AMBIGUOUS_UNDERLAY_ADDRESS" // takeover mode, but the first NIC has several IPv4 addresses
  | "BRIDGE_CONFLICT" // icbr0/icbond0 exists but was not made by vm-init
  | "OVS_UNAVAILABLE" // no OVS database socket, or ovsdb-server / ovs-vswitchd not running or not answering
  | "OVS_COMMAND_FAILED" // OVSDB refused a transaction (the message names the operation and the row)
  | "OVS_CONFLICT" // OVSDB changed between vm-init's read and its write; nothing was written
  | "OVSDB_PROTOCOL_ERROR" // ovsdb-server sent something that is not RFC 7047 JSON-RPC
  | "INTERFACE_ERROR" // OVS accepted a port but could not create its interface
  | "IP_COMMAND_FAILED" // iproute2 refused a change
  | "MACHINE_CHANGED" // a NIC changed while apply was running (it rolled back)
  | "ETHTOOL_FAILED" // ethtool could not change an offload setting
  | "COMMAND_NOT_FOUND" // ip or ethtool is not installed
  | "TLS_FILE_UNREADABLE"; // a controller.tls file is missing or unreadable

/** One schema violation: the dotted path of the field and what is wrong with it. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class VmInitError extends Error {
  override readonly name = "VmInitError";
  readonly code: VmInitErrorCode;
  /** The config field at fault, when there is one (e.g. `underlay.nics[1]`). */
  readonly field: string | undefined;
  /** Every schema violation found (INVALID_CONFIG only); `message` lists them too. */
  readonly issues: readonly ConfigIssue[];
  /** Set when a failed apply tried to undo its changes and that, too, failed. */
  rollbackError: Error | undefined;

  constructor(
    code: VmInitErrorCode,
    message: string,
    opts: { field?: string; issues?: readonly ConfigIssue[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.field = opts.field;
    this.issues = opts.issues ?? [];
    this.rollbackError = undefined;
  }

  /** Builds INVALID_CONFIG from the issues a validation pass collected. */
  static invalidConfig(issues: readonly ConfigIssue[]): VmInitError {
    const text = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    return new VmInitError("INVALID_CONFIG", `invalid vm-init config: ${text}`, {
      field: issues[0]?.path,
      issues,
    });
  }
}
