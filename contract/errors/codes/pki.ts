import { type ErrorTable, EXIT } from "../spec.ts";

/** The controller's PKI for OpenFlow over TLS (PkiError). */
export const PKI_ERRORS = {
  PKI_EXISTS: {
    status: 409,
    exit: EXIT.CONFLICT,
    summary: "the CA, or the named key or certificate, exists",
  },
  PKI_MISSING: { status: 404, exit: EXIT.CONFIG, summary: "the PKI directory lacks its CA or a file" },
  BAD_NAME: {
    status: 400,
    exit: EXIT.USAGE,
    summary: "a certificate name that is no VM id, or a reserved one",
  },
  OPENSSL_FAILED: { status: 500, exit: EXIT.OS, summary: "openssl refused (its message says why)" },
} as const satisfies ErrorTable;
