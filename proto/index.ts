/** proto: the OpenFlow 1.3 wire codec. Pure functions, bytes <-> typed messages; no sockets, no timers. */

export { type Action, type ActionKind, OFPAT } from "./actions.ts";
export { type Bucket, type GroupType, groupTypes } from "./buckets.ts";
export {
  type CommittedBundle,
  encodeBundleAdds,
  encodeBundleCommit,
  encodeCommittedBundle,
} from "./committed-bundle.ts";
export * from "./constants.ts";
export * from "./error-codes.ts";
export { ProtoError, type ProtoErrorCode } from "./errors.ts";
export { MessageFramer } from "./framer.ts";
export { type Instruction, type InstructionKind, OFPIT } from "./instructions.ts";
export { type Json, messageFromJson, toJson } from "./json.ts";
export {
  type KnownOxmField,
  OFPVID_PRESENT,
  OFPXMC,
  OXM_FIELDS,
  type OxmField,
  type OxmFieldName,
  type OxmValue,
  type OxmValueKind,
  type SetFieldOxm,
  type UnknownOxmField,
} from "./match.ts";
export {
  decodeHeader,
  decodeMessage,
  encodeMessage,
  type OfpMessage,
  type OfpMessageType,
} from "./message.ts";
export type {
  AsyncConfig,
  GetAsyncReply,
  GetAsyncRequest,
  RoleMasks,
  SetAsync,
} from "./messages/async-config.ts";
export {
  type BundleAddMessage,
  type BundleControl,
  type BundleCtrlType,
  bundleCtrlTypes,
  OFPBF,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
} from "./messages/bundle.ts";
export {
  describeError,
  type ErrorMsg,
  type ExperimenterErrorMsg,
  isExperimenterError,
  type StandardErrorMsg,
} from "./messages/error.ts";
export type { ExperimenterMsg } from "./messages/experimenter.ts";
export { type FlowMod, type FlowModCommand, flowModCommands, OFPFF } from "./messages/flow-mod.ts";
export { type FlowRemoved, type FlowRemovedReason, flowRemovedReasons } from "./messages/flow-removed.ts";
export { type GroupMod, type GroupModCommand, groupModCommands } from "./messages/group-mod.ts";
export { type PacketIn, type PacketInReason, packetInReasons } from "./messages/packet-in.ts";
export type { PacketOut } from "./messages/packet-out.ts";
export type { PortMod } from "./messages/port-mod.ts";
export { type PortReason, type PortStatus, portReasons } from "./messages/port-status.ts";
export { type ControllerRole, controllerRoles, type RoleReply, type RoleRequest } from "./messages/role.ts";
export {
  type GetConfigReply,
  type GetConfigRequest,
  OFPC_FRAG,
  type SetConfig,
} from "./messages/switch-config.ts";
export { OFPTC_DEPRECATED_MASK, type TableMod } from "./messages/table-mod.ts";
export type { AggregateStatsReplyBody, AggregateStatsRequestBody } from "./multipart/aggregate.ts";
export type {
  FlowStats,
  FlowStatsFilter,
  FlowStatsReplyBody,
  FlowStatsRequestBody,
} from "./multipart/flow.ts";
export type {
  BucketCounter,
  GroupStats,
  GroupStatsReplyBody,
  GroupStatsRequestBody,
} from "./multipart/group.ts";
export type { GroupDesc, GroupDescReplyBody, GroupDescRequestBody } from "./multipart/group-desc.ts";
export type { PortDescReplyBody, PortDescRequestBody } from "./multipart/port-desc.ts";
export type { PortStats, PortStatsReplyBody, PortStatsRequestBody } from "./multipart/port-stats.ts";
export type { TableStats, TableStatsReplyBody, TableStatsRequestBody } from "./multipart/table.ts";
export { OFP_PORT_LEN, OFPPC, OFPPF, OFPPS, type OfpPort } from "./port.ts";
export {
  bytesToIpv4,
  formatIpv4,
  formatIpv6,
  formatMac,
  ipv4ToBytes,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "./wire/addresses.ts";
