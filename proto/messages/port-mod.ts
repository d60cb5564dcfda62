import { formatMac, parseMac } from "../wire/addresses.ts";
import type { MessageCodec } from "./codec.ts";

/** OFPT_PORT_MOD: change the config bits selected by `mask` (and the advertised features) of a port. */
export interface PortMod {
  type: "PORT_MOD";
  xid: number;
  portNo: number;
  /** must match the port's; it guards against a port number that was reused */
  hwAddr: string;
  /** OFPPC_* bits */
  config: number;
  /** which OFPPC_* bits of `config` to change */
  mask: number;
  /** OFPPF_* bits; 0 leaves them unchanged */
  advertise: number;
}

export const portModCodec: MessageCodec<PortMod> = {
  code: 16,
  encode(w, m) {
    w.u32(m.portNo, "portNo")
      .zeros(4)
      .bytes(parseMac(m.hwAddr, "hwAddr", w.offset + 4))
      .zeros(2)
      .u32(m.config, "config")
      .u32(m.mask, "mask")
      .u32(m.advertise, "advertise")
      .zeros(4);
  },
  decode(r, h) {
    const portNo = r.u32("port_no");
    r.skip(4);
    const hwAddr = formatMac(r.bytesCopy(6, "hw_addr"));
    r.skip(2);
    const config = r.u32("config");
    const mask = r.u32("mask");
    const advertise = r.u32("advertise");
    r.skip(4);
    return { type: "PORT_MOD", xid: h.xid, portNo, hwAddr, config, mask, advertise };
  },
};
