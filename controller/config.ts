import { readFileSync } from "node:fs";
import { type AuthConfig, MIN_TOKEN_LENGTH } from "../contract/http/auth.ts";
import { ControllerError } from "./errors.ts";

export const TOKEN_ENV = "ICSDN_CONTROLLER_TOKEN";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** "127.0.0.1:8080", "[::1]:8080", "localhost:0" (port 0: any free port). */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new ControllerError("INVALID_FIELD", `--listen: '${text}' is not HOST:PORT (e.g. 127.0.0.1:8080)`, {
      field: "--listen",
    });
  }
  return { host: m[1] ?? m[2]!, port };
}

/**
 * Auth is on by default: the token comes from --token-file, else from $ICSDN_CONTROLLER_TOKEN.
 * Only an explicit `insecureNoAuth` turns it off, and it cannot be combined with a token.
 */
export function loadAuth(options: {
  tokenFile?: string | undefined;
  insecureNoAuth?: boolean | undefined;
  env?: NodeJS.ProcessEnv;
}): AuthConfig {
  const env = options.env ?? process.env;
  if (options.insecureNoAuth) {
    if (options.tokenFile !== undefined) {
      throw configError("--insecure-no-auth", "--insecure-no-auth and --token-file exclude each other");
    }
    return { mode: "none" };
  }
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, "utf8");
    } catch (err) {
      throw configError("--token-file", `cannot read ${options.tokenFile}: ${(err as Error).message}`);
    }
    return { mode: "token", token: checkToken(text.trim(), "--token-file") };
  }
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== "")
    return { mode: "token", token: checkToken(fromEnv.trim(), TOKEN_ENV) };
  throw configError(
    "--token-file",
    `no API token: give --token-file FILE, set ${TOKEN_ENV}, or (for a lab only) --insecure-no-auth`,
  );
}

function checkToken(token: string, field: string): string {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    // Never echo the token itself.
    throw configError(field, `the token must be at least ${MIN_TOKEN_LENGTH} characters without whitespace`);
  }
  return token;
}

function configError(field: string, message: string): ControllerError {
  return new ControllerError("INVALID_FIELD", message, { field });
}

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
