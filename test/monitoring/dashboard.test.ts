import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  allPanels,
  controllerSeriesNames,
  type Dashboard,
  type DashboardPanel,
  expandExpr,
  loadDashboard,
  mediationSeriesNames,
  metricNames,
  PAPER_SECONDS,
  recordingRuleNames,
} from "./support/monitoring-files.ts";
import { tempDir } from "./support/processes.ts";
import { prometheusAvailable } from "./support/prometheus.ts";

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's syntax for the variable `datasource`
const DATASOURCE_UID = "${datasource}";

const dashboard: Dashboard = loadDashboard();
const panels = allPanels(dashboard).filter((p) => p.type !== "row");
const targets = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));

function panelFor(kind: keyof typeof PAPER_SECONDS): DashboardPanel {
  const found = panels.filter((p) =>
    (p.targets ?? []).some((t) => t.expr?.includes(`job:icsdn_${kind}_seconds:`)),
  );
  expect(found, `one panel for ${kind}`).toHaveLength(1);
  return found[0]!;
}

const dirs: { remove: () => void }[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) d.remove();
});

describe("metricNames (the checker below relies on it)", () => {
  it("finds selected names, and skips functions, labels, ranges, numbers, durations and keywords", () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (job, le) (rate(a_bucket{le="0.1", x=~"y|z"}[5m]))) ' +
          '/ on (job) group_left b offset 15m > bool 1e-12 or absent(up{job="j"}) unless c:d:e',
      ),
    ).toEqual(["a_bucket", "b", "c:d:e", "up"]);
    expect(metricNames("sum without (instance) (increase(x_total[$__rate_interval]))")).toEqual(["x_total"]);
  });
});

describe("monitoring/grafana/icsdn-dashboard.json", () => {
  it("is a Grafana dashboard (schemaVersion 39) whose panels all use the Prometheus datasource variable", () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const ds = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(ds).toMatchObject({ name: "datasource", query: "prometheus" });
    expect(panels.length).toBeGreaterThan(0);
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: DATASOURCE_UID });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        expect(t.datasource, panel.title).toEqual({ type: "prometheus", uid: DATASOURCE_UID });
        expect(t.expr, panel.title).toBeTruthy();
      }
    }
    // variables that query Prometheus use it too
    for (const v of dashboard.templating.list.filter((x) => x.type === "query")) {
      expect(v.datasource, v.name).toEqual({ type: "prometheus", uid: DATASOURCE_UID });
    }
    // no hard-wired datasource anywhere (an exported dashboard often carries one)
    expect(JSON.stringify(dashboard)).not.toMatch(
      /"uid":\s*"(?!\$\{datasource\}|-- Grafana --|icsdn-controller")/,
    );
  });

  it("has unique panel ids and a layout without overlaps on the 24-column grid", () => {
    const all = allPanels(dashboard);
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const p of all) {
      const g = p.gridPos;
      expect(g, p.title).toBeDefined();
      if (!g) continue;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const key = `${x},${y}`;
          expect(cells.get(key), `${p.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, p.title ?? "");
        }
      }
    }
  });

  it("every query names only series the controller exposes, recording rules, or up", async () => {
    const known = new Set([
      ...(await controllerSeriesNames()),
      ...(await mediationSeriesNames()),
      ...recordingRuleNames(),
      "up",
    ]);
    const named = new Set<string>();
    for (const { panel, target } of targets) {
      for (const expr of expandExpr(dashboard, target.expr ?? "")) {
        expect(expr, `${panel.title}: a variable left over`).not.toContain("$");
        for (const name of metricNames(expr)) {
          expect(known.has(name), `${panel.title}: ${name} in ${expr}`).toBe(true);
          named.add(name);
        }
      }
    }
    // and the dashboard covers what the brief asks for
    for (const name of [
      "job:icsdn_linking_seconds:p50_rate5m",
      "job:icsdn_linking_seconds:p95_rate1h",
      "job:icsdn_update_seconds:p50_rate1h",
      "job:icsdn_update_seconds:p95_rate5m",
      "job:icsdn_downtime_seconds:p50_rate1h",
      "job:icsdn_downtime_seconds:p95_rate1h",
      "icsdn_switches_connected",
      "icsdn_switches_missing",
      "icsdn_flow_mods_total",
      "icsdn_openflow_errors_total",
      "icsdn_rebinds_total",
      "job:icsdn_rebinds:success_ratio_rate1h",
      "up",
    ]) {
      expect(named.has(name), name).toBe(true);
    }
    // the job variable lists a series that exists
    const job = dashboard.templating.list.find((v) => v.name === "job");
    for (const name of metricNames(String(job?.definition).replace(/^label_values\((.*), *job\)$/, "$1"))) {
      expect(known.has(name), name).toBe(true);
    }
  });

  it("shows the paper's 63 ms / 26.5 ms / 5.3 ms as threshold lines on the latency panels", () => {
    for (const [kind, seconds] of Object.entries(PAPER_SECONDS) as [keyof typeof PAPER_SECONDS, number][]) {
      const panel = panelFor(kind);
      const steps = panel.fieldConfig?.defaults?.thresholds?.steps?.map((s) => s.value);
      expect(steps, panel.title).toContain(seconds);
      expect(panel.fieldConfig?.defaults?.custom?.thresholdsStyle?.mode, panel.title).toMatch(/line|dashed/);
      expect(panel.description, panel.title).toContain(`${seconds * 1000} ms`);
      const exprs = (panel.targets ?? []).map((t) => t.expr ?? "");
      expect(exprs.some((e) => e.includes(`job:icsdn_${kind}_seconds:p50_rate`))).toBe(true);
      expect(exprs.some((e) => e.includes(`job:icsdn_${kind}_seconds:p95_rate`))).toBe(true);
    }
  });

  it.skipIf(!prometheusAvailable())("every query is valid PromQL for Prometheus 2.42 (promtool)", () => {
    const dir = tempDir("icsdn-dashboard-");
    dirs.push(dir);
    const exprs = targets.flatMap(({ target }) => expandExpr(dashboard, target.expr ?? ""));
    // Each expression as a recording rule; JSON is YAML.
    const file = join(dir.path, "dashboard-exprs.yml");
    writeFileSync(
      file,
      JSON.stringify({
        groups: [
          { name: "dashboard", rules: exprs.map((expr, i) => ({ record: `dashboard_expr_${i}`, expr })) },
        ],
      }),
    );
    const res = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8", timeout: 30_000 });
    expect(`${res.stdout}${res.stderr}`).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(res.status).toBe(0);
  });
});
