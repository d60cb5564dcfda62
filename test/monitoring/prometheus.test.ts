import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControllerClientPort } from "../../mediation/ports/controller-client-port.ts";
import { type RunningMediation, startMediation } from "../../mediation/server.ts";
import { ControllerProcess } from "./support/controller.ts";
import {
  alertNames,
  allPanels,
  controllerSeriesNames,
  expandExpr,
  loadDashboard,
  mediationSeriesNames,
  metricNames,
  RULES_FILE,
  recordingRuleNames,
} from "./support/monitoring-files.ts";
import { waitFor } from "./support/processes.ts";
import { parseValue, prometheusAvailable, RunningPrometheus } from "./support/prometheus.ts";

const JOB = "icsdn-controller";
const MEDIATION_JOB = "icsdn-mediation";
/** The mediation's labelled series appear with the first migration; this test runs none. */
const PER_MIGRATION = new Set([
  "icsdn_migrations_total",
  "icsdn_migration_phase_seconds_sum",
  "icsdn_migration_phase_seconds_count",
  "icsdn_migration_bytes_total",
]);
/** Linking times the test reports, one per member: the median is 60 ms, the mean 52.6 ms. */
const REPORTS_MS = [30, 40, 60, 63, 70] as const;
const MEMBERS = REPORTS_MS.map((_, i) => ({ vmId: `vm-${i}`, vint0: `198.18.0.${i + 1}` }));

/**
 * Prometheus' histogram_quantile for one histogram (v2.42 bucketQuantile): find the bucket the
 * rank falls in, interpolate linearly inside it (the first bucket starts at 0), and return the
 * highest finite bound when the rank falls in +Inf.
 */
function bucketQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const last = sorted.at(-1);
  if (!last || last.le !== Infinity || sorted.length < 2) return Number.NaN;
  const rank = q * last.count;
  const b = sorted.findIndex((x) => x.count >= rank);
  const bucket = sorted[b]!;
  if (b === sorted.length - 1) return sorted[b - 1]!.le;
  if (b === 0) return bucket.le * (rank / bucket.count);
  const below = sorted[b - 1]!;
  return below.le + (bucket.le - below.le) * ((rank - below.count) / (bucket.count - below.count));
}

const exact = (a: number, b: number) => Math.abs(a - b) < 1e-9;

describe.skipIf(!prometheusAvailable())(
  "a real Prometheus scraping a real controller with monitoring/ rules",
  () => {
    let controller: ControllerProcess | undefined;
    let prom: RunningPrometheus | undefined;
    let mediation: RunningMediation | undefined;
    const dir = mkdtempSync(join(tmpdir(), "icsdn-prom-mediation-"));

    beforeAll(async () => {
      controller = await ControllerProcess.start();
      mediation = await startMediation({
        dbPath: join(dir, "journal.db"),
        listen: { host: "127.0.0.1", port: 0 },
        auth: { mode: "none" },
        controller: new ControllerClientPort({ url: controller.url, token: undefined }),
      });
      const created = await controller.call("POST", "/v1/clusters", {
        id: "web",
        vni: 42,
        tunnel: "vxlan",
        members: MEMBERS,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);

      prom = await RunningPrometheus.start({
        jobs: [
          { jobName: JOB, targets: [controller.target] },
          { jobName: MEDIATION_JOB, targets: [new URL(mediation.url).host] },
        ],
        ruleFiles: [RULES_FILE],
        scrapeInterval: "1s",
        evaluationInterval: "1s",
      });
      const p = prom;
      // Report only after Prometheus has seen the histogram at 0: rate() never counts a series' first value.
      await waitFor("a first scrape with icsdn_linking_seconds_count 0", async () =>
        (await p.value(`icsdn_linking_seconds_count{job="${JOB}"}`)) === 0 ? true : undefined,
      );
      for (const [i, linkingMs] of REPORTS_MS.entries()) {
        const res = await controller.call("POST", "/v1/linking", {
          clusterId: "web",
          vmId: MEMBERS[i]!.vmId,
          linkingMs,
        });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      // A bad request is refused (400) and counted as such.
      const rebind = await controller.call("POST", "/v1/clusters/web/members/vm-0/rebind", {
        endpoint: "192.0.2.300",
      });
      expect(rebind.status).toBe(400);
    });

    afterAll(async () => {
      try {
        await prom?.stop();
      } finally {
        await mediation?.close();
        await controller?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    const p = () => prom!;
    const reportsScraped = () =>
      waitFor(`icsdn_linking_seconds_count == ${REPORTS_MS.length}`, async () =>
        (await p().value(`icsdn_linking_seconds_count{job="${JOB}"}`)) === REPORTS_MS.length
          ? true
          : undefined,
      );

    it('scrapes the controller and the mediation without a token: up{job="icsdn-controller"} == 1', async () => {
      expect(await p().value(`up{job="${JOB}"}`)).toBe(1);
      const targets = await p().targets();
      expect(targets).toHaveLength(2);
      expect(targets.find((t) => t.labels.job === JOB)).toMatchObject({
        labels: { job: JOB, instance: controller!.target },
        health: "up",
        lastError: "",
      });
      await waitFor("the mediation scraped", async () =>
        (await p().value(`up{job="${MEDIATION_JOB}"}`)) === 1 ? true : undefined,
      );
      // while the REST API does want one
      expect((await fetch(`${controller!.url}/v1/clusters`)).status).toBe(401);
    });

    it("counts every linking report, bucket by bucket", async () => {
      await reportsScraped();
      const sum = await p().value(`icsdn_linking_seconds_sum{job="${JOB}"}`);
      expect(sum).toBeCloseTo(REPORTS_MS.reduce((a, b) => a + b, 0) / 1000, 9);
      const buckets = await p().query(`icsdn_linking_seconds_bucket{job="${JOB}"}`);
      expect(buckets.length).toBeGreaterThan(2);
      for (const b of buckets) {
        const le = parseValue(b.metric.le ?? "");
        expect(b.value, `le=${b.metric.le}`).toBe(REPORTS_MS.filter((ms) => ms / 1000 <= le).length);
      }
    });

    it("records linking p50 (and p95, p99, mean) consistent with the reports at bucket resolution", async () => {
      await reportsScraped();
      const buckets = (await p().query(`icsdn_linking_seconds_bucket{job="${JOB}"}`)).map((b) => ({
        le: parseValue(b.metric.le ?? ""),
        count: b.value,
      }));
      expect(buckets.find((b) => b.le === Infinity)?.count).toBe(REPORTS_MS.length);
      for (const window of ["5m", "1h"]) {
        for (const [name, q] of [
          ["p50", 0.5],
          ["p95", 0.95],
          ["p99", 0.99],
        ] as const) {
          const rule = `job:icsdn_linking_seconds:${name}_rate${window}`;
          const expected = bucketQuantile(q, buckets);
          // The rule is evaluated every second; wait for an evaluation after the last report's scrape.
          const value = await waitFor(`${rule} == ${expected}`, async () => {
            const samples = await p().query(rule);
            const v = samples[0]?.value;
            if (samples.length !== 1 || samples[0]?.metric.job !== JOB || v === undefined) {
              throw new Error(`samples: ${JSON.stringify(samples)}`);
            }
            if (!exact(v, expected)) throw new Error(`${rule} is ${v}`);
            return v;
          });
          // In the bucket that holds the true quantile of the reports
          const sorted = [...REPORTS_MS].sort((a, b) => a - b);
          const truth = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]! / 1000;
          const bounds = buckets.map((b) => b.le).sort((a, b) => a - b);
          const upper = bounds.find((le) => le >= truth)!;
          const lower = [0, ...bounds].filter((le) => le < truth).at(-1)!;
          expect(value, `${rule} in (${lower}, ${upper}], around ${truth}`).toBeGreaterThan(lower);
          expect(value).toBeLessThanOrEqual(upper);
        }
        const mean = await p().value(`job:icsdn_linking_seconds:mean_rate${window}`);
        expect(mean).toBeCloseTo(REPORTS_MS.reduce((a, b) => a + b, 0) / REPORTS_MS.length / 1000, 9);
      }
      // the worked example: rank 2.5 of 5 falls in the (0.05, 0.063] bucket, which holds reports 3 and 4
      expect(await p().value("job:icsdn_linking_seconds:p50_rate1h")).toBeCloseTo(
        0.05 + (0.013 * 0.5) / 2,
        9,
      );
    });

    it("exposes icsdn_switches_connected and _missing (0: no switch, no placed member) and the refused rebind", async () => {
      expect(await p().value(`icsdn_switches_connected{job="${JOB}"}`)).toBe(0);
      expect(await p().value(`icsdn_switches_missing{job="${JOB}"}`)).toBe(0);
      await waitFor('icsdn_rebinds_total{result="refused"} == 1', async () =>
        (await p().value(`icsdn_rebinds_total{job="${JOB}", result="refused"}`)) === 1 ? true : undefined,
      );
      for (const result of ["ok", "noop", "failed"]) {
        expect(await p().value(`icsdn_rebinds_total{job="${JOB}", result="${result}"}`), result).toBe(0);
      }
    });

    it("loads and evaluates every rule of icsdn.rules.yml without errors, and no alert is pending or firing", async () => {
      const groups = await waitFor("every rule evaluated", async () => {
        const gs = await p().rules();
        const rules = gs.flatMap((g) => g.rules);
        return rules.length > 0 && rules.every((r) => !r.lastEvaluation.startsWith("0001-")) ? gs : undefined;
      });
      const rules = groups.flatMap((g) => g.rules);
      expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
      expect(
        rules
          .filter((r) => r.type === "recording")
          .map((r) => r.name)
          .sort(),
      ).toEqual(recordingRuleNames().sort());
      expect(
        rules
          .filter((r) => r.type === "alerting")
          .map((r) => r.name)
          .sort(),
      ).toEqual(alertNames().sort());
      // Prometheus' own parse of each rule names only series the controller exposes (or other rules)
      const known = new Set([
        ...(await controllerSeriesNames()),
        ...(await mediationSeriesNames()),
        ...recordingRuleNames(),
        "up",
      ]);
      expect(rules.flatMap((r) => metricNames(r.query).filter((n) => !known.has(n)))).toEqual([]);
      // a healthy controller with nothing connected and nothing failed raises nothing
      await waitFor(
        "no pending or firing alert",
        async () => ((await p().alerts()).length === 0 ? true : undefined),
        {
          timeoutMs: 10_000,
        },
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(await p().alerts())}`);
      });
    });

    it("answers every dashboard query, with data wherever the controller has a series", async () => {
      const dashboard = loadDashboard();
      const exprs = allPanels(dashboard).flatMap((panel) =>
        (panel.targets ?? []).flatMap((t) =>
          expandExpr(dashboard, t.expr ?? "", { job: JOB, rateInterval: "1m" }).map((expr) => ({
            panel: panel.title ?? "",
            expr,
          })),
        ),
      );
      expect(exprs.length).toBeGreaterThan(10);
      // rate() needs two scrapes and the rules an evaluation after them: wait, bounded, for data.
      await waitFor("data for every dashboard query", async () => {
        const empty: string[] = [];
        for (const { panel, expr } of exprs) {
          const samples = await p().query(expr); // throws on a PromQL error
          // No OpenFlow error has happened, so that labelled counter has no series yet.
          if (metricNames(expr).includes("icsdn_openflow_errors_total")) continue;
          if (metricNames(expr).some((n) => PER_MIGRATION.has(n))) continue;
          if (samples.length === 0) empty.push(`${panel}: ${expr}`);
        }
        if (empty.length > 0) throw new Error(`no data: ${empty.join("; ")}`);
        return true;
      });
    });
  },
);
