import type { MultipartBodyCodec } from "./body.ts";
import { OFPMP } from "./body.ts";

export interface DescRequestBody {
  kind: "DESC";
}

/** ofp_desc: who made the switch. */
export interface DescReplyBody {
  kind: "DESC";
  mfrDesc: string;
  hwDesc: string;
  swDesc: string;
  serialNum: string;
  dpDesc: string;
}

const DESC_STR_LEN = 256;
const SERIAL_NUM_LEN = 32;

export const descRequestCodec: MultipartBodyCodec<DescRequestBody> = {
  mpType: OFPMP.DESC,
  encode() {},
  decode: () => ({ kind: "DESC" }),
};

export const descReplyCodec: MultipartBodyCodec<DescReplyBody> = {
  mpType: OFPMP.DESC,
  encode(w, b) {
    w.fixedString(b.mfrDesc, DESC_STR_LEN, "mfrDesc")
      .fixedString(b.hwDesc, DESC_STR_LEN, "hwDesc")
      .fixedString(b.swDesc, DESC_STR_LEN, "swDesc")
      .fixedString(b.serialNum, SERIAL_NUM_LEN, "serialNum")
      .fixedString(b.dpDesc, DESC_STR_LEN, "dpDesc");
  },
  decode: (r) => ({
    kind: "DESC",
    mfrDesc: r.fixedString(DESC_STR_LEN, "mfr_desc"),
    hwDesc: r.fixedString(DESC_STR_LEN, "hw_desc"),
    swDesc: r.fixedString(DESC_STR_LEN, "sw_desc"),
    serialNum: r.fixedString(SERIAL_NUM_LEN, "serial_num"),
    dpDesc: r.fixedString(DESC_STR_LEN, "dp_desc"),
  }),
};
