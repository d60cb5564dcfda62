import { type ErrorTable, EXIT } from "../spec.ts";

const malformed = (summary: string) => ({ status: 400, exit: EXIT.DATA, summary }) as const;

/** The OpenFlow codec's codes (ProtoError): what is wrong with the bytes or the message. */
export const PROTO_ERRORS = {
  TRUNCATED: malformed("fewer bytes than a header or length field requires"),
  BAD_LENGTH: malformed("a length field that is impossible (too small, not aligned, past its container)"),
  BAD_VERSION: malformed("an OpenFlow version we do not speak"),
  BAD_TYPE: malformed("an unknown message, multipart, action, instruction or property type"),
  BAD_FIELD: malformed("an OXM field we do not know, or one with the wrong length"),
  BAD_VALUE: malformed("a value out of range for its field"),
  TOO_LONG: malformed("an encoded message over 65,535 bytes"),
} as const satisfies ErrorTable;
