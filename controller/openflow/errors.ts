import type { SWITCH_ERRORS } from "../../contract/errors/codes/switch.ts";
import { IcsdnError } from "../../contract/errors/index.ts";
import {
  decodeHeader,
  describeError,
  type ErrorMsg,
  errorCodeName,
  errorTypeName,
  experimenterErrorName,
  isExperimenterError,
  OFP_VERSION,
} from "../../proto/index.ts";
import type { OpenFlowErrorInfo } from "../fabric/switch-fabric.ts";

/** Why a request to a switch did not succeed. */
export type SwitchFailureKind =
  | "OPENFLOW" // the switch answered with an ERROR (see `info`)
  | "TIMEOUT" // no answer in time
  | "DISCONNECTED" // the session ended first
  | "OVERLOAD"; // too many requests in flight on this session: refused before sending

/** Each kind's registered code (contract/errors/codes/switch.ts). */
const CODE_OF_KIND: Readonly<Record<SwitchFailureKind, keyof typeof SWITCH_ERRORS>> = {
  OPENFLOW: "SWITCH_ERROR",
  TIMEOUT: "SWITCH_TIMEOUT",
  DISCONNECTED: "SWITCH_DISCONNECTED",
  OVERLOAD: "SWITCH_OVERLOADED",
};

/** The one exception a switch session's requests reject with. */
export class SwitchRequestError extends IcsdnError<keyof typeof SWITCH_ERRORS> {
  override readonly name = "SwitchRequestError";
  readonly kind: SwitchFailureKind;
  /** The switch's error, for kind OPENFLOW. */
  readonly info: OpenFlowErrorInfo | undefined;
  constructor(kind: SwitchFailureKind, message: string, info?: OpenFlowErrorInfo) {
    super(CODE_OF_KIND[kind], message, info === undefined ? {} : { details: { ...info } });
    this.kind = kind;
    this.info = info;
  }
}

const MESSAGE_TYPES: Record<number, string> = {
  4: "EXPERIMENTER",
  13: "PACKET_OUT",
  14: "FLOW_MOD",
  18: "MULTIPART_REQUEST",
  20: "BARRIER_REQUEST",
};

/**
 * An ERROR as the fabric reports it and the metric labels it: type and code by name (numbers when
 * unknown), and a message naming the refused request (its header is in the error's data).
 */
export function errorInfo(m: ErrorMsg): OpenFlowErrorInfo {
  let type: string;
  let code: string;
  if (isExperimenterError(m)) {
    type = "EXPERIMENTER";
    code = experimenterErrorName(m.experimenter, m.expType) ?? `exp_type ${m.expType}`;
  } else {
    const known = m.version === undefined || m.version === OFP_VERSION;
    type = (known && errorTypeName(m.errorType)) || `type ${m.errorType}`;
    code = (known && errorCodeName(m.errorType, m.code)) || `code ${m.code}`;
  }
  let about = "";
  if (m.data.length >= 8) {
    try {
      const h = decodeHeader(m.data);
      about = ` (refused ${MESSAGE_TYPES[h.type] ?? `message type ${h.type}`} xid ${h.xid})`;
    } catch {
      // data too short or odd: the error alone still says enough
    }
  }
  return { type, code, message: `${describeError(m)}${about}` };
}
