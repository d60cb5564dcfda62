import { readFileSync } from "node:fs";
import { IcsdnError } from "../errors/index.ts";
import { type AuthConfig, MIN_TOKEN_LENGTH } from "./auth.ts";

/** Where a server of ours listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

function invalid(field: string, message: string): IcsdnError {
  return new IcsdnError("INVALID_FIELD", message, { field });
}

/** "127.0.0.1:8080", "[::1]:8080", "localhost:0" (port 0: any free port). */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw invalid("--listen", `--listen: '${text}' is not HOST:PORT (e.g. 127.0.0.1:8080)`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/**
 * Auth is on by default: the token comes from --token-file, else from the service's environment
 * variable (`tokenEnv`). Only an explicit `insecureNoAuth` turns it off, and it cannot be combined
 * with a token.
 */
export function loadAuth(options: {
  tokenEnv: string;
  tokenFile?: string | undefined;
  insecureNoAuth?: boolean | undefined;
  env?: NodeJS.ProcessEnv;
}): AuthConfig {
  const env = options.env ?? process.env;
  if (options.insecureNoAuth) {
    if (options.tokenFile !== undefined) {
      throw invalid("--insecure-no-auth", "--insecure-no-auth and --token-file exclude each other");
    }
    return { mode: "none" };
  }
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, "utf8");
    } catch (err) {
      throw invalid("--token-file", `cannot read ${options.tokenFile}: ${(err as Error).message}`);
    }
    return { mode: "token", token: checkToken(text.trim(), "--token-file") };
  }
  const fromEnv = env[options.tokenEnv];
  if (fromEnv !== undefined && fromEnv !== "")
    return { mode: "token", token: checkToken(fromEnv.trim(), options.tokenEnv) };
  throw invalid(
    "--token-file",
    `no API token: give --token-file FILE, set ${options.tokenEnv}, or (for a lab only) --insecure-no-auth`,
  );
}

function checkToken(token: string, field: string): string {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    // Never echo the token itself.
    throw invalid(field, `the token must be at least ${MIN_TOKEN_LENGTH} characters without whitespace`);
  }
  return token;
}

/** "http://127.0.0.1:8080" for what a server actually bound (a configured port 0 picks one). */
export function boundUrl(
  listen: ListenAddress,
  address: ReturnType<import("node:net").Server["address"]>,
): string {
  const port = typeof address === "object" && address ? address.port : listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return `http://${host}:${port}`;
}

/** Resolves on the first SIGINT or SIGTERM: how every `serve` command waits; SIGHUP calls `onHangup` (a reload). */
export function untilSignalled(options: { onHangup?: () => void } = {}): Promise<void> {
  const hangup = options.onHangup;
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      if (hangup) process.off("SIGHUP", hangup);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (hangup) process.on("SIGHUP", hangup);
  });
}
