/**
 * One error registry: every code of every component once, each with an HTTP status and an exit
 * code, and every error class of ours an IcsdnError whose codes are registered.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../contract/cli/index.ts";
import { ControllerClientError } from "../../contract/controller-api/index.ts";
import {
  ERROR_REGISTRY,
  ERROR_TABLES,
  EXIT,
  IcsdnError,
  isErrorCode,
  mergeErrorTables,
} from "../../contract/errors/index.ts";
import { ControllerError } from "../../controller/errors.ts";
import { SwitchRequestError } from "../../controller/openflow/errors.ts";
import { PkiError } from "../../controller/openflow/pki.ts";
import { LabError } from "../../lab/state.ts";
import { ProtoError } from "../../proto/errors.ts";
import { VmInitError } from "../../vm-init/errors.ts";

const ROOT = join(import.meta.dirname, "../..");
/** The product's folders (tests and benches may define errors of their own). */
const SOURCES = ["contract", "proto", "controller", "vm-init", "lab", "cli", "mediation"];

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" });
  } catch {
    return []; // a component that does not exist yet
  }
  return entries.filter((f) => f.endsWith(".ts")).map((f) => join(dir, f));
}

describe("the error registry", () => {
  it("gives every code an HTTP error status, an exit code and a summary", () => {
    const exits = new Set<number>(Object.values(EXIT));
    for (const [code, spec] of Object.entries(ERROR_REGISTRY)) {
      expect(code, code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(exits.has(spec.exit) && spec.exit !== 0, `${code} exit ${spec.exit}`).toBe(true);
      expect(spec.summary.length, code).toBeGreaterThan(10);
    }
  });

  it("holds each component's table whole, and each code once", () => {
    let count = 0;
    for (const table of Object.values(ERROR_TABLES)) {
      for (const [code, spec] of Object.entries(table)) {
        expect(ERROR_REGISTRY[code as keyof typeof ERROR_REGISTRY]).toBe(spec);
        count++;
      }
    }
    expect(Object.keys(ERROR_REGISTRY)).toHaveLength(count);
  });

  it("refuses a code two components define, naming both", () => {
    const spec = { status: 400, exit: EXIT.USAGE, summary: "a duplicate for the test" };
    expect(() => mergeErrorTables({ one: { SAME: spec }, two: { OTHER: spec, SAME: spec } })).toThrow(
      "error code SAME is registered twice (one and two)",
    );
  });

  it("knows every code the product's sources throw with", () => {
    // `new XxxError("CODE", ...)`, as every error class of ours is called; SwitchRequestError
    // takes a failure kind instead, mapped to its code (tested below).
    const thrown = /new ((?!SwitchRequest)\w*Error)\(\s*"([A-Z][A-Z0-9_]*)"/g;
    const seen: string[] = [];
    for (const file of SOURCES.flatMap(sourceFiles)) {
      for (const m of readFileSync(join(ROOT, file), "utf8").matchAll(thrown)) {
        expect(isErrorCode(m[2]!), `${file}: ${m[1]}("${m[2]}") is not registered`).toBe(true);
        seen.push(m[2]!);
      }
    }
    expect(seen.length).toBeGreaterThan(50);
  });

  it("has no error class of ours that is not an IcsdnError", () => {
    for (const file of SOURCES.flatMap(sourceFiles)) {
      const text = readFileSync(join(ROOT, file), "utf8");
      const plain = [...text.matchAll(/class (\w+) extends (?:Error|TypeError|RangeError)\b/g)].map(
        (m) => m[1],
      );
      if (file !== join("contract", "errors", "icsdn-error.ts")) expect(plain, file).toEqual([]);
    }
  });

  it.each([
    ["ProtoError", new ProtoError("TRUNCATED", "short", 3), "TRUNCATED", 400, 65],
    ["VmInitError", new VmInitError("OVS_UNAVAILABLE", "no db.sock"), "OVS_UNAVAILABLE", 503, 69],
    ["LabError", new LabError("NO_LAB", "no lab"), "NO_LAB", 404, 3],
    ["PkiError", new PkiError("PKI_MISSING", "no CA"), "PKI_MISSING", 404, 78],
    ["SwitchRequestError", new SwitchRequestError("TIMEOUT", "no barrier reply"), "SWITCH_TIMEOUT", 504, 75],
    ["UsageError", new UsageError("--db is required"), "USAGE", 400, 2],
    ["ControllerError", new ControllerError("NOT_FOUND", "no such cluster"), "NOT_FOUND", 404, 3],
    [
      "ControllerClientError",
      new ControllerClientError("CONTROLLER_UNREACHABLE", "down"),
      "CONTROLLER_UNREACHABLE",
      503,
      69,
    ],
  ])(
    "%s is an IcsdnError answering with its code's status and exit code",
    (name, err, code, status, exit) => {
      expect(err).toBeInstanceOf(IcsdnError);
      expect(err.name).toBe(name);
      expect({ code: err.code, status: err.status, exitCode: err.exitCode }).toEqual({
        code,
        status,
        exitCode: exit,
      });
    },
  );

  it("keeps what ProtoError and SwitchRequestError carried besides the code", () => {
    const proto = new ProtoError("BAD_LENGTH", "length 3 is below 8", 4).shifted(8);
    expect(proto).toMatchObject({
      offset: 12,
      detail: "length 3 is below 8",
      message: "length 3 is below 8 (at byte 12)",
    });
    const kinds = ["OPENFLOW", "TIMEOUT", "DISCONNECTED", "OVERLOAD"] as const;
    const codes = kinds.map((k) => new SwitchRequestError(k, k).code);
    expect(new Set(codes).size).toBe(kinds.length);
    const info = { type: "BAD_MATCH", code: "BAD_FIELD", message: "refused FLOW_MOD xid 9" };
    expect(new SwitchRequestError("OPENFLOW", "refused", info)).toMatchObject({
      kind: "OPENFLOW",
      info,
      details: info,
    });
  });
});
