import { decodePort, encodePort, type OfpPort } from "../port.ts";
import { nameTable } from "../wire/names.ts";
import type { MessageCodec } from "./codec.ts";

/** ofp_port_reason */
export const portReasons = nameTable({ ADD: 0, DELETE: 1, MODIFY: 2 });
export type PortReason = (typeof portReasons.names)[number];

/** OFPT_PORT_STATUS: a port was added, removed or changed. */
export interface PortStatus {
  type: "PORT_STATUS";
  xid: number;
  reason: PortReason;
  desc: OfpPort;
}

export const portStatusCodec: MessageCodec<PortStatus> = {
  code: 12,
  encode(w, m) {
    w.u8(portReasons.code(m.reason, "reason", w.offset)).zeros(7);
    encodePort(w, m.desc);
  },
  decode(r, h) {
    const at = r.offset;
    const reason = portReasons.name(r.u8("reason"), "port status reason", at);
    r.skip(7);
    return { type: "PORT_STATUS", xid: h.xid, reason, desc: decodePort(r) };
  },
};
