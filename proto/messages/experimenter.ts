import { EXPERIMENTER_ID } from "../constants.ts";
import { ProtoError } from "../errors.ts";
import {
  decodeBundleAdd,
  decodeBundleControl,
  ONFT_BUNDLE_ADD_MESSAGE,
  ONFT_BUNDLE_CONTROL,
} from "./bundle.ts";
import type { MessageCodec } from "./codec.ts";

/** OFPT_EXPERIMENTER we do not model (bundles have their own types). */
export interface ExperimenterMsg {
  type: "EXPERIMENTER";
  xid: number;
  experimenter: number;
  expType: number;
  data: Uint8Array;
}

function isBundle(experimenter: number, expType: number): boolean {
  return (
    experimenter === EXPERIMENTER_ID.ONF &&
    (expType === ONFT_BUNDLE_CONTROL || expType === ONFT_BUNDLE_ADD_MESSAGE)
  );
}

/** The one decoder for wire type 4: bundle messages come back as BUNDLE_CONTROL / BUNDLE_ADD_MESSAGE. */
export const experimenterCodec: MessageCodec<ExperimenterMsg> = {
  code: 4,
  encode(w, m) {
    // It would decode as a bundle message, not as this one.
    if (isBundle(m.experimenter, m.expType)) {
      throw new ProtoError("BAD_VALUE", "ONF bundle messages must be BUNDLE_CONTROL or BUNDLE_ADD_MESSAGE");
    }
    w.u32(m.experimenter, "experimenter").u32(m.expType, "expType").bytes(m.data);
  },
  decode(r, h, ctx) {
    const experimenter = r.u32("experimenter");
    const expType = r.u32("exp_type");
    if (experimenter === EXPERIMENTER_ID.ONF && expType === ONFT_BUNDLE_CONTROL) {
      return decodeBundleControl(r, h);
    }
    if (experimenter === EXPERIMENTER_ID.ONF && expType === ONFT_BUNDLE_ADD_MESSAGE) {
      return decodeBundleAdd(r, h, ctx);
    }
    return { type: "EXPERIMENTER", xid: h.xid, experimenter, expType, data: r.rest() };
  },
};
