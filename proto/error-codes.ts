/**
 * OpenFlow 1.3.5 error types and codes (openflow.h, ofp_error_type and the ofp_*_code enums),
 * plus the ONF bundle extension's experimenter error codes (EXT-230), which OVS sends in 1.3.
 */

import { EXPERIMENTER_ID } from "./constants.ts";

/** ofp_error_type */
export const OFPET = {
  HELLO_FAILED: 0,
  BAD_REQUEST: 1,
  BAD_ACTION: 2,
  BAD_INSTRUCTION: 3,
  BAD_MATCH: 4,
  FLOW_MOD_FAILED: 5,
  GROUP_MOD_FAILED: 6,
  PORT_MOD_FAILED: 7,
  TABLE_MOD_FAILED: 8,
  QUEUE_OP_FAILED: 9,
  SWITCH_CONFIG_FAILED: 10,
  ROLE_REQUEST_FAILED: 11,
  METER_MOD_FAILED: 12,
  TABLE_FEATURES_FAILED: 13,
  EXPERIMENTER: 0xffff,
} as const;

export type ErrorTypeName = keyof typeof OFPET;

/** ofp_hello_failed_code */
export const OFPHFC = { INCOMPATIBLE: 0, EPERM: 1 } as const;

/** ofp_bad_request_code */
export const OFPBRC = {
  BAD_VERSION: 0,
  BAD_TYPE: 1,
  BAD_MULTIPART: 2,
  BAD_EXPERIMENTER: 3,
  BAD_EXP_TYPE: 4,
  EPERM: 5,
  BAD_LEN: 6,
  BUFFER_EMPTY: 7,
  BUFFER_UNKNOWN: 8,
  BAD_TABLE_ID: 9,
  IS_SLAVE: 10,
  BAD_PORT: 11,
  BAD_PACKET: 12,
  MULTIPART_BUFFER_OVERFLOW: 13,
} as const;

/** ofp_bad_action_code */
export const OFPBAC = {
  BAD_TYPE: 0,
  BAD_LEN: 1,
  BAD_EXPERIMENTER: 2,
  BAD_EXP_TYPE: 3,
  BAD_OUT_PORT: 4,
  BAD_ARGUMENT: 5,
  EPERM: 6,
  TOO_MANY: 7,
  BAD_QUEUE: 8,
  BAD_OUT_GROUP: 9,
  MATCH_INCONSISTENT: 10,
  UNSUPPORTED_ORDER: 11,
  BAD_TAG: 12,
  BAD_SET_TYPE: 13,
  BAD_SET_LEN: 14,
  BAD_SET_ARGUMENT: 15,
} as const;

/** ofp_bad_instruction_code */
export const OFPBIC = {
  UNKNOWN_INST: 0,
  UNSUP_INST: 1,
  BAD_TABLE_ID: 2,
  UNSUP_METADATA: 3,
  UNSUP_METADATA_MASK: 4,
  BAD_EXPERIMENTER: 5,
  BAD_EXP_TYPE: 6,
  BAD_LEN: 7,
  EPERM: 8,
} as const;

/** ofp_bad_match_code */
export const OFPBMC = {
  BAD_TYPE: 0,
  BAD_LEN: 1,
  BAD_TAG: 2,
  BAD_DL_ADDR_MASK: 3,
  BAD_NW_ADDR_MASK: 4,
  BAD_WILDCARDS: 5,
  BAD_FIELD: 6,
  BAD_VALUE: 7,
  BAD_MASK: 8,
  BAD_PREREQ: 9,
  DUP_FIELD: 10,
  EPERM: 11,
} as const;

/** ofp_flow_mod_failed_code */
export const OFPFMFC = {
  UNKNOWN: 0,
  TABLE_FULL: 1,
  BAD_TABLE_ID: 2,
  OVERLAP: 3,
  EPERM: 4,
  BAD_TIMEOUT: 5,
  BAD_COMMAND: 6,
  BAD_FLAGS: 7,
} as const;

/** ofp_group_mod_failed_code */
export const OFPGMFC = {
  GROUP_EXISTS: 0,
  INVALID_GROUP: 1,
  WEIGHT_UNSUPPORTED: 2,
  OUT_OF_GROUPS: 3,
  OUT_OF_BUCKETS: 4,
  CHAINING_UNSUPPORTED: 5,
  WATCH_UNSUPPORTED: 6,
  LOOP: 7,
  UNKNOWN_GROUP: 8,
  CHAINED_GROUP: 9,
  BAD_TYPE: 10,
  BAD_COMMAND: 11,
  BAD_BUCKET: 12,
  BAD_WATCH: 13,
  EPERM: 14,
} as const;

/** ofp_port_mod_failed_code */
export const OFPPMFC = { BAD_PORT: 0, BAD_HW_ADDR: 1, BAD_CONFIG: 2, BAD_ADVERTISE: 3, EPERM: 4 } as const;

/** ofp_table_mod_failed_code */
export const OFPTMFC = { BAD_TABLE: 0, BAD_CONFIG: 1, EPERM: 2 } as const;

/** ofp_queue_op_failed_code */
export const OFPQOFC = { BAD_PORT: 0, BAD_QUEUE: 1, EPERM: 2 } as const;

/** ofp_switch_config_failed_code */
export const OFPSCFC = { BAD_FLAGS: 0, BAD_LEN: 1, EPERM: 2 } as const;

/** ofp_role_request_failed_code */
export const OFPRRFC = { STALE: 0, UNSUP: 1, BAD_ROLE: 2 } as const;

/** ofp_meter_mod_failed_code */
export const OFPMMFC = {
  UNKNOWN: 0,
  METER_EXISTS: 1,
  INVALID_METER: 2,
  UNKNOWN_METER: 3,
  BAD_COMMAND: 4,
  BAD_FLAGS: 5,
  BAD_RATE: 6,
  BAD_BURST: 7,
  BAD_BAND: 8,
  BAD_BAND_VALUE: 9,
  OUT_OF_METERS: 10,
  OUT_OF_BANDS: 11,
} as const;

/** ofp_table_features_failed_code */
export const OFPTFFC = {
  BAD_TABLE: 0,
  BAD_METADATA: 1,
  BAD_TYPE: 2,
  BAD_LEN: 3,
  BAD_ARGUMENT: 4,
  EPERM: 5,
} as const;

/**
 * ONF EXT-230 bundle failures: in OpenFlow 1.3 they come as OFPET_EXPERIMENTER errors with
 * experimenter ONF and these exp_type values (OpenFlow 1.4 made them type 17 with codes 0..15).
 */
export const OFPBFC = {
  UNKNOWN: 2300,
  EPERM: 2301,
  BAD_ID: 2302,
  BUNDLE_EXIST: 2303,
  BUNDLE_CLOSED: 2304,
  OUT_OF_BUNDLES: 2305,
  BAD_TYPE: 2306,
  BAD_FLAGS: 2307,
  MSG_BAD_LEN: 2308,
  MSG_BAD_XID: 2309,
  MSG_UNSUP: 2310,
  MSG_CONFLICT: 2311,
  MSG_TOO_MANY: 2312,
  MSG_FAILED: 2313,
  TIMEOUT: 2314,
  BUNDLE_IN_PROGRESS: 2315,
} as const;

/** The codes of each standard error type (EXPERIMENTER has none: its codes belong to the experimenter). */
export const ERROR_CODES = {
  HELLO_FAILED: OFPHFC,
  BAD_REQUEST: OFPBRC,
  BAD_ACTION: OFPBAC,
  BAD_INSTRUCTION: OFPBIC,
  BAD_MATCH: OFPBMC,
  FLOW_MOD_FAILED: OFPFMFC,
  GROUP_MOD_FAILED: OFPGMFC,
  PORT_MOD_FAILED: OFPPMFC,
  TABLE_MOD_FAILED: OFPTMFC,
  QUEUE_OP_FAILED: OFPQOFC,
  SWITCH_CONFIG_FAILED: OFPSCFC,
  ROLE_REQUEST_FAILED: OFPRRFC,
  METER_MOD_FAILED: OFPMMFC,
  TABLE_FEATURES_FAILED: OFPTFFC,
} as const satisfies Record<Exclude<ErrorTypeName, "EXPERIMENTER">, Record<string, number>>;

function invert(o: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(o).map(([name, n]) => [n, name]));
}

const typeNames = invert(OFPET);
const codeNames = new Map<number, Map<number, string>>(
  Object.entries(ERROR_CODES).map(([t, codes]) => [OFPET[t as keyof typeof ERROR_CODES], invert(codes)]),
);
const bundleCodeNames = invert(OFPBFC);

/** "BAD_REQUEST" for 1; undefined for a type OpenFlow 1.3 does not define. */
export function errorTypeName(errorType: number): ErrorTypeName | undefined {
  return typeNames.get(errorType) as ErrorTypeName | undefined;
}

/** "BAD_TYPE" for (1, 1); undefined for an unknown type or code, and for EXPERIMENTER. */
export function errorCodeName(errorType: number, code: number): string | undefined {
  return codeNames.get(errorType)?.get(code);
}

/** The name of an experimenter error we know (only the ONF bundle ones), e.g. "MSG_UNSUP". */
export function experimenterErrorName(experimenter: number, expType: number): string | undefined {
  return experimenter === EXPERIMENTER_ID.ONF ? bundleCodeNames.get(expType) : undefined;
}
