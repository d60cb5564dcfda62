/**
 * The OpenFlow side's log: one JSON object per line, with pino's level numbers, so it reads like
 * the REST API's (fastify) log next to it. Sessions log with their remote address and dpid.
 */
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export type LogFields = Readonly<Record<string, unknown>>;

export interface OfLog {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

/** Bigints (dpids, cookies) as hex text: JSON has no u64. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}

/** A log writing JSON lines at `level` and above (default to stderr). */
export function jsonLog(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): OfLog {
  const min = LEVELS[level];
  const at =
    (name: keyof typeof LEVELS) =>
    (msg: string, fields: LogFields = {}): void => {
      const n = LEVELS[name];
      if (n < min) return;
      write(
        `${JSON.stringify({ level: n, time: Date.now(), component: "openflow", ...fields, msg }, replacer)}\n`,
      );
    };
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

export const silentLog: OfLog = { error() {}, warn() {}, info() {}, debug() {} };

/** Keeps every entry, for tests that check what was logged. */
export class MemoryLog implements OfLog {
  readonly entries: { level: "error" | "warn" | "info" | "debug"; msg: string; fields: LogFields }[] = [];
  error(msg: string, fields: LogFields = {}): void {
    this.entries.push({ level: "error", msg, fields });
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.entries.push({ level: "warn", msg, fields });
  }
  info(msg: string, fields: LogFields = {}): void {
    this.entries.push({ level: "info", msg, fields });
  }
  debug(msg: string, fields: LogFields = {}): void {
    this.entries.push({ level: "debug", msg, fields });
  }
}
