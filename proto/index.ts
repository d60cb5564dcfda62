/** proto: the OpenFlow 1.3 wire codec. Pure functions, bytes <-> typed messages; no sockets, no timers. */
export * from "./constants.ts";
export { ProtoError, type ProtoErrorCode } from "./errors.ts";
export { MessageFramer } from "./framer.ts";
export {
  decodeHeader,
  decodeMessage,
  encodeMessage,
  type OfpMessage,
  type OfpMessageType,
} from "./message.ts";
export { messageFromJson, toJson, type Json } from "./json.ts";
