import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  alertNames,
  controllerSeriesNames,
  metricNames,
  PROMETHEUS_CONFIG,
  RULES_FILE,
  RULES_TESTS,
  recordingRuleNames,
} from "./support/monitoring-files.ts";
import { prometheusAvailable } from "./support/prometheus.ts";

function promtool(...args: string[]): { status: number | null; output: string } {
  const res = spawnSync("promtool", args, { encoding: "utf8", timeout: 30_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

describe.skipIf(!prometheusAvailable())("monitoring/ as promtool reads it", () => {
  it("prometheus.yml is a valid config that scrapes job icsdn-controller and loads the rules", () => {
    const res = promtool("check", "config", PROMETHEUS_CONFIG);
    expect(res.output).toContain("is valid prometheus config file syntax");
    // check config also checks every rule file it names: it must have found ours.
    expect(res.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(res.output).toMatch(/Checking \S*monitoring\/icsdn\.rules\.yml\s+SUCCESS: \d+ rules found/);
    expect(res.status).toBe(0);
    expect(readFileSync(PROMETHEUS_CONFIG, "utf8")).toMatch(/^\s*- job_name: icsdn-controller\s*$/m);
  });

  it("icsdn.rules.yml passes promtool check rules", () => {
    const res = promtool("check", "rules", RULES_FILE);
    expect(res.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(res.status).toBe(0);
    // and every rule was seen by the line-based reader the other tests use
    const found = Number(/SUCCESS: (\d+) rules found/.exec(res.output)?.[1]);
    expect(recordingRuleNames().length + alertNames().length).toBe(found);
  });

  it("records p50/p95/p99 and the mean of linking, update and downtime over 5m and 1h, and the rebind success ratio", () => {
    const expected = ["linking", "update", "downtime"].flatMap((m) =>
      ["5m", "1h"].flatMap((w) =>
        ["p50", "p95", "p99", "mean"].map((q) => `job:icsdn_${m}_seconds:${q}_rate${w}`),
      ),
    );
    expect(recordingRuleNames().sort()).toEqual(
      [...expected, "job:icsdn_rebinds:success_ratio_rate1h"].sort(),
    );
    expect(alertNames().sort()).toEqual(
      [
        "IcsdnControllerDown",
        "IcsdnSwitchMissing",
        "IcsdnRebindFailed",
        "IcsdnOpenFlowErrors",
        "IcsdnSwitchIdentityRefused",
        "IcsdnUpdateTimeAbovePaper",
        "IcsdnDowntimeAbovePaper",
      ].sort(),
    );
  });

  it("the rules only name series the controller exposes", async () => {
    // Line-based: `expr:` and its folded continuation lines. The e2e test repeats this on Prometheus' own parse.
    const text = readFileSync(RULES_FILE, "utf8");
    const known = new Set([...(await controllerSeriesNames()), ...recordingRuleNames(), "up"]);
    const exprs = [...text.matchAll(/^(\s*)expr: (?:\|-\s*\n((?:\1 {2}.*\n)+)|(.*)$)/gm)].map(
      (m) => m[2] ?? m[3] ?? "",
    );
    expect(exprs.length).toBe(recordingRuleNames().length + alertNames().length);
    const unknown = exprs.flatMap((e) => metricNames(e).filter((n) => !known.has(n)));
    expect(unknown).toEqual([]);
  });

  it("the alerts and recording rules behave as intended on synthetic series (promtool test rules)", () => {
    const res = promtool("test", "rules", RULES_TESTS);
    expect(res.output).toContain("SUCCESS");
    expect(res.status, res.output).toBe(0);
  });
});
