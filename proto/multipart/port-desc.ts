import { decodePort, encodePort, type OfpPort } from "../port.ts";
import type { MultipartBodyCodec } from "./body.ts";
import { OFPMP } from "./body.ts";

export interface PortDescRequestBody {
  kind: "PORT_DESC";
}

export interface PortDescReplyBody {
  kind: "PORT_DESC";
  ports: OfpPort[];
}

export const portDescRequestCodec: MultipartBodyCodec<PortDescRequestBody> = {
  mpType: OFPMP.PORT_DESC,
  encode() {},
  decode: () => ({ kind: "PORT_DESC" }),
};

export const portDescReplyCodec: MultipartBodyCodec<PortDescReplyBody> = {
  mpType: OFPMP.PORT_DESC,
  encode(w, b) {
    for (const p of b.ports) encodePort(w, p);
  },
  decode(r) {
    const ports: OfpPort[] = [];
    while (!r.atEnd) ports.push(decodePort(r));
    return { kind: "PORT_DESC", ports };
  },
};
