import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const icsdn = join(import.meta.dirname, "../../bin/icsdn");

function run(args: string[], input?: string) {
  const res = spawnSync(icsdn, args, { input, encoding: "utf8" });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe("icsdn ofp", () => {
  const hello = "04000010000000070001000800000012";
  const echo = "0402000d000000090102030405";

  it("print then encode gives the same bytes, for one message and for several", () => {
    for (const hex of [hello, hello + echo]) {
      const printed = run(["ofp", "print", hex]);
      expect(printed.code, printed.stderr).toBe(0);
      const encoded = run(["ofp", "encode"], printed.stdout);
      expect(encoded.code, encoded.stderr).toBe(0);
      expect(encoded.stdout.trim()).toBe(hex);
    }
  });

  it("prints bytes and 64-bit values with tags, and reads hex from stdin", () => {
    const printed = run(["ofp", "print", "-"], `${echo.slice(0, 10)} ${echo.slice(10)}\n`);
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual({
      type: "ECHO_REQUEST",
      xid: 9,
      data: { $hex: "0102030405" },
    });
  });

  it.each([
    [["ofp", "print", "04000010000000070001"], undefined, /TRUNCATED/],
    [["ofp", "print", "zz"], undefined, /not an even-length hex string/],
    [["ofp", "print", "04ff000800000001"], undefined, /BAD_TYPE: unknown message type 255/],
    [["ofp", "encode"], "{not json", /stdin is not valid JSON/],
    [["ofp", "encode"], '{"xid": 1}', /message.type/],
    [["ofp", "encode"], '{"type": "FEATURES_REPLY", "xid": 1}', /datapathId/],
    [
      ["ofp", "encode"],
      '{"type": "ECHO_REQUEST", "xid": 1, "data": {"$hex": "abc"}}',
      /\$hex: not an even-length/,
    ],
  ])("bad input %j exits 65 (EX_DATAERR) naming the problem", (args, input, message) => {
    const res = run(args, input);
    expect(res.code).toBe(65);
    expect(res.stderr).toMatch(message);
    expect(res.stdout).toBe("");
  });
});
