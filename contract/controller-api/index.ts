export { ControllerClient, type ControllerClientOptions } from "./client.ts";
export { ControllerClientError, type ControllerClientErrorCode } from "./client-error.ts";
export { SLUG_PATTERN } from "./ids.ts";
export type * from "./types.ts";
export { MAX_BATCH_REBINDS } from "./types.ts";
