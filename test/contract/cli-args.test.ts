import { describe, expect, it } from "vitest";
import { intFlag, isHelp, parseFlags, UsageError, withUsage } from "../../contract/cli/index.ts";

// The CLI plumbing every `icsdn <command>` uses: a wrong command line is a UsageError (exit 2)
// that says what is wrong and ends with the command's usage.

const USAGE = "usage: icsdn thing [--name NAME] [--count N] [--verbose]";
const OPTIONS = {
  name: { type: "string" },
  count: { type: "string" },
  verbose: { type: "boolean" },
} as const;

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parseFlags", () => {
  it("parses known options and up to maxPositionals positionals", () => {
    const p = parseFlags(["--name", "db", "--verbose", "a1"], OPTIONS, { usage: USAGE, maxPositionals: 1 });
    expect(p.values).toEqual({ name: "db", verbose: true });
    expect(p.positionals).toEqual(["a1"]);
    expect(parseFlags([], OPTIONS, { usage: USAGE }).positionals).toEqual([]);
  });

  it("refuses an unknown option and a missing value with the usage, exit 2", () => {
    const unknown = usageError(() => parseFlags(["--bogus"], OPTIONS, { usage: USAGE }));
    expect(unknown.message).toMatch(/'--bogus'/);
    expect(unknown.message.endsWith(`\n${USAGE}`)).toBe(true);
    expect([unknown.code, unknown.exitCode]).toEqual(["USAGE", 2]);
    const missing = usageError(() => parseFlags(["--name"], OPTIONS, { usage: USAGE }));
    expect(missing.message).toMatch(/--name/);
    expect(missing.message.endsWith(`\n${USAGE}`)).toBe(true);
  });

  it("refuses positionals beyond maxPositionals (none by default), naming the first extra one", () => {
    expect(usageError(() => parseFlags(["x"], OPTIONS, { usage: USAGE })).message).toBe(
      `unexpected argument 'x'\n${USAGE}`,
    );
    expect(
      usageError(() => parseFlags(["a", "b", "c"], OPTIONS, { usage: USAGE, maxPositionals: 2 })).message,
    ).toBe(`unexpected argument 'c'\n${USAGE}`);
  });
});

describe("withUsage", () => {
  it("passes the command's result and errors through, turning a parseArgs refusal into a UsageError", async () => {
    expect(await withUsage(USAGE, async () => 7)).toBe(7);
    const other = new Error("boom");
    await expect(withUsage(USAGE, async () => Promise.reject(other))).rejects.toBe(other);
    const plainTypeError = new TypeError("not a parse error");
    await expect(withUsage(USAGE, async () => Promise.reject(plainTypeError))).rejects.toBe(plainTypeError);
    const refused = await withUsage(USAGE, async () => {
      parseFlags(["--bogus"], OPTIONS, { usage: "inner" });
    }).catch((e: unknown) => e);
    // parseFlags already said it with its own usage; withUsage adds its usage to a bare refusal.
    expect(refused).toBeInstanceOf(UsageError);
    const bare = await withUsage(USAGE, async () => {
      const err = Object.assign(new TypeError("Unknown option '--x'"), {
        code: "ERR_PARSE_ARGS_UNKNOWN_OPTION",
      });
      throw err;
    }).catch((e: unknown) => e);
    expect(bare).toBeInstanceOf(UsageError);
    expect((bare as UsageError).message).toBe(`Unknown option '--x'\n${USAGE}`);
  });
});

describe("intFlag", () => {
  it("takes whole numbers within the bounds, the bounds included", () => {
    expect(intFlag("count", "1", 1, 10)).toBe(1);
    expect(intFlag("count", "10", 1, 10)).toBe(10);
    expect(intFlag("count", "007", 1, 10)).toBe(7);
  });

  it.each(["0", "11", "-1", "1.5", "1e1", " 5", "", "x"])("refuses '%s', naming the flag and range", (v) => {
    expect(usageError(() => intFlag("count", v, 1, 10)).message).toBe(
      `--count must be an integer 1..10, not '${v}'`,
    );
  });
});

describe("UsageError", () => {
  it("is named so in a stack, with code USAGE", () => {
    expect([new UsageError("x").name, new UsageError("x").code]).toEqual(["UsageError", "USAGE"]);
  });
});

describe("isHelp", () => {
  it("knows -h, --help and help, and nothing else", () => {
    expect(["-h", "--help", "help"].map(isHelp)).toEqual([true, true, true]);
    expect([undefined, "", "-help", "HELP", "h"].map(isHelp)).toEqual([false, false, false, false, false]);
  });
});
