import { OFP_VERSION } from "../constants.ts";
import { errorCodeName, errorTypeName, experimenterErrorName, OFPET } from "../error-codes.ts";
import { ProtoError } from "../errors.ts";
import type { MessageCodec } from "./codec.ts";

interface ErrorBase {
  type: "ERROR";
  xid: number;
  /**
   * Set only when the header version is not OpenFlow 1.3 (a switch may refuse our HELLO in its
   * own version); the numbers then follow that version's spec, and are re-sent in it.
   */
  version?: number;
  /** At least the first 64 bytes of the failed request, or ASCII text for HELLO_FAILED. */
  data: Uint8Array;
}

/** ofp_error_msg. Numbers, not names, so that codes from newer switches survive; see error-codes.ts. */
export interface StandardErrorMsg extends ErrorBase {
  /** ofp_error_type (OFPET.*), never EXPERIMENTER */
  errorType: number;
  code: number;
}

/** ofp_error_experimenter_msg: the code space belongs to the experimenter. */
export interface ExperimenterErrorMsg extends ErrorBase {
  errorType: typeof OFPET.EXPERIMENTER;
  expType: number;
  experimenter: number;
}

/** OFPT_ERROR. Tell the forms apart with `"experimenter" in m`. */
export type ErrorMsg = StandardErrorMsg | ExperimenterErrorMsg;

export function isExperimenterError(m: ErrorMsg): m is ExperimenterErrorMsg {
  return "experimenter" in m;
}

/** A short text for logs: "BAD_REQUEST/BAD_TYPE", "EXPERIMENTER 0x4f4e4600/MSG_UNSUP", "type 42/code 7". */
export function describeError(m: ErrorMsg): string {
  if (isExperimenterError(m)) {
    const name = experimenterErrorName(m.experimenter, m.expType) ?? `exp_type ${m.expType}`;
    return `EXPERIMENTER 0x${m.experimenter.toString(16).padStart(8, "0")}/${name}`;
  }
  // Another version's numbers would be misnamed by the 1.3 tables.
  const known = m.version === undefined || m.version === OFP_VERSION;
  const type = (known && errorTypeName(m.errorType)) || `type ${m.errorType}`;
  const code = (known && errorCodeName(m.errorType, m.code)) || `code ${m.code}`;
  return `${type}/${code}`;
}

export const errorCodec: MessageCodec<ErrorMsg> = {
  code: 1,
  encode(w, m) {
    if (isExperimenterError(m)) {
      w.u16(OFPET.EXPERIMENTER).u16(m.expType, "expType").u32(m.experimenter, "experimenter");
    } else {
      // 0xffff would be read back as the experimenter form.
      if (m.errorType === OFPET.EXPERIMENTER) {
        throw new ProtoError("BAD_VALUE", "errorType EXPERIMENTER needs expType and experimenter", w.offset);
      }
      w.u16(m.errorType, "errorType").u16(m.code, "code");
    }
    w.bytes(m.data);
  },
  decode(r, h) {
    const errorType = r.u16("error type");
    const base = h.version === OFP_VERSION ? { xid: h.xid } : { xid: h.xid, version: h.version };
    if (errorType === OFPET.EXPERIMENTER) {
      const expType = r.u16("error exp_type");
      const experimenter = r.u32("error experimenter");
      return { type: "ERROR", ...base, errorType, expType, experimenter, data: r.rest() };
    }
    const code = r.u16("error code");
    return { type: "ERROR", ...base, errorType, code, data: r.rest() };
  },
};
