import { nameTable } from "../wire/names.ts";
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import type { MessageCodec } from "./codec.ts";

/** ofp_controller_role */
export const controllerRoles = nameTable({ NOCHANGE: 0, EQUAL: 1, MASTER: 2, SLAVE: 3 });
export type ControllerRole = (typeof controllerRoles.names)[number];

interface RoleBody {
  xid: number;
  role: ControllerRole;
  /** orders MASTER/SLAVE claims between controllers; ignored by the switch for NOCHANGE and EQUAL */
  generationId: bigint;
}
export interface RoleRequest extends RoleBody {
  type: "ROLE_REQUEST";
}
export interface RoleReply extends RoleBody {
  type: "ROLE_REPLY";
}

function encodeRole(w: Writer, m: RoleBody): void {
  w.u32(controllerRoles.code(m.role, "role", w.offset))
    .zeros(4)
    .u64(m.generationId, "generationId");
}

function decodeRole(r: Reader): { role: ControllerRole; generationId: bigint } {
  const at = r.offset;
  const role = controllerRoles.name(r.u32("role"), "role", at);
  r.skip(4);
  return { role, generationId: r.u64("generation_id") };
}

export const roleRequestCodec: MessageCodec<RoleRequest> = {
  code: 24,
  encode: encodeRole,
  decode: (r, h) => ({ type: "ROLE_REQUEST", xid: h.xid, ...decodeRole(r) }),
};
export const roleReplyCodec: MessageCodec<RoleReply> = {
  code: 25,
  encode: encodeRole,
  decode: (r, h) => ({ type: "ROLE_REPLY", xid: h.xid, ...decodeRole(r) }),
};
