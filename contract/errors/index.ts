export { IcsdnError, type IcsdnErrorOptions } from "./icsdn-error.ts";
export {
  ERROR_REGISTRY,
  ERROR_TABLES,
  type ErrorCode,
  errorSpec,
  isErrorCode,
  mergeErrorTables,
} from "./registry.ts";
export { type ErrorSpec, type ErrorTable, EXIT } from "./spec.ts";
