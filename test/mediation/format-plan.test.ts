import { describe, expect, it } from "vitest";
import { type FormatFacts, planImageFormat } from "../../mediation/transfer/format-plan.ts";

const facts = (over: Partial<FormatFacts>): FormatFacts => ({
  sourceFormat: "raw",
  containerFormat: "bare",
  accepted: ["raw", "qcow2"],
  converterAvailable: true,
  ...over,
});

describe("which disk format the target image gets", () => {
  it("sends the image as it is when the target accepts its format", () => {
    expect(planImageFormat(facts({}))).toEqual({ kind: "as_is", format: "raw" });
    expect(planImageFormat(facts({ sourceFormat: "qcow2", accepted: ["qcow2"] }))).toEqual({
      kind: "as_is",
      format: "qcow2",
    });
  });

  it("treats a missing source format as raw (Glance's meaning)", () => {
    expect(planImageFormat(facts({ sourceFormat: undefined, accepted: ["raw"] }))).toEqual({
      kind: "as_is",
      format: "raw",
    });
    expect(planImageFormat(facts({ sourceFormat: undefined, accepted: ["qcow2"] }))).toEqual({
      kind: "convert",
      from: "raw",
      to: "qcow2",
    });
  });

  it("sends the image as it is to a target that does not say what it accepts", () => {
    expect(planImageFormat(facts({ sourceFormat: "vmdk", accepted: undefined }))).toEqual({
      kind: "as_is",
      format: "vmdk",
    });
  });

  it("converts raw -> qcow2 and qcow2 -> raw when the target takes only the other", () => {
    expect(planImageFormat(facts({ accepted: ["qcow2"] }))).toEqual({
      kind: "convert",
      from: "raw",
      to: "qcow2",
    });
    expect(planImageFormat(facts({ sourceFormat: "qcow2", accepted: ["raw"] }))).toEqual({
      kind: "convert",
      from: "qcow2",
      to: "raw",
    });
  });

  it("prefers qcow2, then raw, among several accepted targets", () => {
    expect(planImageFormat(facts({ sourceFormat: "vmdk", accepted: ["vdi", "raw", "qcow2"] }))).toEqual({
      kind: "convert",
      from: "vmdk",
      to: "qcow2",
    });
    expect(planImageFormat(facts({ sourceFormat: "qcow2", accepted: ["iso", "vhd", "raw"] }))).toEqual({
      kind: "convert",
      from: "qcow2",
      to: "raw",
    });
  });

  it("refuses when no accepted format is one qemu-img writes, naming what the target takes", () => {
    const plan = planImageFormat(facts({ accepted: ["iso", "ami"] }));
    expect(plan.kind).toBe("refused");
    expect(plan.kind === "refused" && plan.reason).toMatch(/the target accepts iso, ami/);
  });

  it("refuses a source format qemu-img cannot read", () => {
    const plan = planImageFormat(facts({ sourceFormat: "iso", accepted: ["qcow2"] }));
    expect(plan.kind === "refused" && plan.reason).toMatch(/'iso' cannot be converted/);
  });

  it("refuses to convert a disk inside a container (ova, docker)", () => {
    const plan = planImageFormat(facts({ containerFormat: "ova", accepted: ["qcow2"] }));
    expect(plan.kind === "refused" && plan.reason).toMatch(/container format 'ova'/);
  });

  it("refuses a needed conversion when qemu-img or nbdkit is missing, and not an unneeded one", () => {
    const plan = planImageFormat(facts({ accepted: ["qcow2"], converterAvailable: false }));
    expect(plan.kind === "refused" && plan.reason).toMatch(/qemu-img or nbdkit is not installed/);
    expect(planImageFormat(facts({ converterAvailable: false }))).toEqual({ kind: "as_is", format: "raw" });
  });

  it("refuses a target that accepts nothing", () => {
    const plan = planImageFormat(facts({ accepted: [] }));
    expect(plan.kind === "refused" && plan.reason).toMatch(/the target accepts no disk format/);
  });
});
