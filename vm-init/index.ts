/**
 * vm-init: the in-VM network configurator (DESIGN.md "Inside every VM") and its cloud-init
 * user-data generator. The lab and the controller import the config type and datapathIdFor.
 */
export { type ApplyResult, apply } from "./apply.ts";
export {
  type BondMode,
  type DatapathType,
  TAKEOVER,
  type TunnelType,
  type TxChecksumOffload,
  type VmInitConfig,
  type VmInitConfigInput,
} from "./config.ts";
export { datapathIdFor, datapathIdHex, parseDatapathId } from "./dpid.ts";
export { type ConfigIssue, VmInitError, type VmInitErrorCode } from "./errors.ts";
export { TUNNEL_OVERHEAD, vint0Mtu } from "./mtu.ts";
export { BOND_BRIDGE, CLUSTER_BRIDGE, ENC, ENC_OFPORT, VINT, VINT_OFPORT } from "./names.ts";
export type { Target } from "./shell.ts";
export { type StatusReport, status } from "./status.ts";
export { type TeardownResult, teardown } from "./teardown.ts";
export { type IcsdnInstall, type UserDataOptions, unitFile, userData } from "./user-data.ts";
export { loadConfigFile, parseConfig } from "./validate.ts";
