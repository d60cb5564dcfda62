import { readFileSync } from "node:fs";
import { type AuthConfig, MIN_TOKEN_LENGTH } from "./api/auth.ts";
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
