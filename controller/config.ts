import { type ListenAddress, parseListen } from "../contract/http/serve-config.ts";
import { ControllerError } from "./errors.ts";

export const TOKEN_ENV = "ICSDN_CONTROLLER_TOKEN";

/** The OpenFlow port switches dial by default (IANA), and the one for TLS by our convention. */
export const DEFAULT_OPENFLOW_PORT = 6653;
export const DEFAULT_OPENFLOW_TLS_PORT = 6654;

/** "0.0.0.0:6653", "0.0.0.0" (default port), or "off" (undefined: no listener). */
export function parseOpenFlowListen(
  text: string,
  field: string,
  defaultPort: number,
): ListenAddress | undefined {
  if (text === "off") return undefined;
  const withPort = /:\d{1,5}$/.test(text) && !/^[0-9a-fA-F:]+$/.test(text) ? text : `${text}:${defaultPort}`;
  try {
    return parseListen(withPort);
  } catch {
    throw configError(field, `${field}: '${text}' is not HOST[:PORT] or off (e.g. 0.0.0.0:${defaultPort})`);
  }
}

/** "5s", "250ms", "2" (seconds) -> milliseconds, within [min, max]. */
export function parseDurationMs(text: string, field: string, min: number, max: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === "ms" ? 1 : 1000) : Number.NaN;
  if (!m || !(ms >= min && ms <= max)) {
    throw configError(
      field,
      `${field}: '${text}' is not a duration of ${min} ms to ${max / 1000} s (e.g. 5s, 500ms)`,
    );
  }
  return ms;
}

/** A UDP port, or "off" (undefined). */
export function parsePortOrOff(text: string, field: string): number | undefined {
  if (text === "off") return undefined;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65535))
    throw configError(field, `${field}: '${text}' is not a port (1-65535) or off`);
  return port;
}

function configError(field: string, message: string): ControllerError {
  return new ControllerError("INVALID_FIELD", message, { field });
}
