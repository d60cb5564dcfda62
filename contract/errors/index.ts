export { IcsdnError, type IcsdnErrorOptions } from "./icsdn-error.ts";
export { ERROR_REGISTRY, type ErrorCode, errorSpec, isErrorCode } from "./registry.ts";
export { type ErrorSpec, type ErrorTable, EXIT } from "./spec.ts";
