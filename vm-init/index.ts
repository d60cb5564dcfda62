/**
 * vm-init: the in-VM network configurator (DESIGN.md "Inside every VM") and its cloud-init
 * user-data generator. The lab imports the config type; the data-plane rules vm-init follows (dpid,
 * port numbers, tunnel types) are in contract/dataplane.
 */
export { type ApplyResult, apply } from "./apply.ts";
export {
  type BondMode,
  type DatapathType,
  TAKEOVER,
  type TxChecksumOffload,
  type VmInitConfig,
  type VmInitConfigInput,
} from "./config.ts";
export { type ConfigIssue, VmInitError, type VmInitErrorCode } from "./errors.ts";
export { TUNNEL_OVERHEAD, vint0Mtu } from "./mtu.ts";
export { BOND_BRIDGE, CLUSTER_BRIDGE, ENC, VINT } from "./names.ts";
export type { Target } from "./shell.ts";
export { type StatusReport, status } from "./status.ts";
export { type TeardownResult, teardown } from "./teardown.ts";
export { type IcsdnInstall, type UserDataOptions, unitFile, userData } from "./user-data.ts";
export { loadConfigFile, parseConfig } from "./validate.ts";
