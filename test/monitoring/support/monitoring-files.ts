import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { ControllerMetrics } from "../../../controller/metrics/controller-metrics.ts";
import { MediationMetrics } from "../../../mediation/metrics.ts";
import { ROOT } from "./processes.ts";

export const PROMETHEUS_CONFIG = join(ROOT, "monitoring/prometheus.yml");
export const RULES_FILE = join(ROOT, "monitoring/icsdn.rules.yml");
export const RULES_TESTS = join(ROOT, "test/monitoring/icsdn-rules.promtool.yml");
export const DASHBOARD_FILE = join(ROOT, "monitoring/grafana/icsdn-dashboard.json");

/** The paper's figures (DESIGN.md, "Definitions we measure"), in seconds. */
export const PAPER_SECONDS = { linking: 0.063, update: 0.0265, downtime: 0.0053 } as const;

const NOT_METRICS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * Metric names (and recording-rule names) a PromQL expression selects. Strings, label matchers,
 * ranges and label lists are dropped first; an identifier followed by "(" is a function, one right
 * after a digit is a number's exponent or a duration's unit.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, " ");
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w:.])[A-Za-z_:][\w:]*/g)) {
    const rest = bare.slice(m.index + m[0].length);
    if (/^\s*\(/.test(rest) || NOT_METRICS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}

/**
 * Every series name the controller exposes, read from its real registry (its own metrics and
 * prom-client's process metrics): a histogram gives _bucket, _sum and _count.
 */
export async function controllerSeriesNames(): Promise<Set<string>> {
  return seriesNames(new ControllerMetrics().registry);
}

/** Every series name the mediation service exposes, read from its real registry. */
export async function mediationSeriesNames(): Promise<Set<string>> {
  return seriesNames(new MediationMetrics(() => 0).registry);
}

async function seriesNames(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    if (String(m.type) === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${m.name}${suffix}`);
    } else if (String(m.type) === "summary") {
      for (const suffix of ["", "_sum", "_count"]) names.add(`${m.name}${suffix}`);
    } else {
      names.add(m.name);
    }
  }
  return names;
}

function ruleNamesOf(kind: "record" | "alert"): string[] {
  const text = readFileSync(RULES_FILE, "utf8");
  return [...text.matchAll(new RegExp(`^\\s*-\\s*${kind}:\\s*(\\S+)\\s*$`, "gm"))].map((m) => m[1]!);
}

/** `record:` names in monitoring/icsdn.rules.yml (the e2e test checks them against Prometheus' own parse). */
export function recordingRuleNames(): string[] {
  return ruleNamesOf("record");
}

export function alertNames(): string[] {
  return ruleNamesOf("alert");
}

// ---- the Grafana dashboard

export interface DashboardTarget {
  readonly expr?: string;
  readonly refId?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
}

export interface DashboardPanel {
  readonly id?: number;
  readonly type: string;
  readonly title?: string;
  readonly description?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly gridPos?: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly DashboardTarget[];
  readonly panels?: readonly DashboardPanel[];
  readonly fieldConfig?: {
    readonly defaults?: {
      readonly thresholds?: { readonly steps?: readonly { readonly value: number | null }[] };
      readonly custom?: { readonly thresholdsStyle?: { readonly mode?: string } };
    };
  };
}

export interface DashboardVariable {
  readonly type: string;
  readonly name: string;
  readonly query?: unknown;
  readonly definition?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly current?: { readonly value?: unknown };
  readonly options?: readonly { readonly value: string }[];
}

export interface Dashboard {
  readonly uid?: string;
  readonly title?: string;
  readonly schemaVersion?: number;
  readonly panels: readonly DashboardPanel[];
  readonly templating: { readonly list: readonly DashboardVariable[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * A panel expression with the dashboard's variables filled in, once for each value of each custom
 * variable (so `...:p95_rate${window}` yields the 5m and the 1h rule). `$job` becomes `job`, and
 * Grafana's `$__rate_interval` becomes `rateInterval`.
 */
export function expandExpr(
  dashboard: Dashboard,
  expr: string,
  { job = "icsdn-controller", rateInterval = "1m" }: { job?: string; rateInterval?: string } = {},
): string[] {
  let variants = [expr.replaceAll(/\$\{__rate_interval\}|\$__rate_interval/g, rateInterval)];
  for (const v of dashboard.templating.list) {
    const source = `\\$\\{${v.name}\\}|\\$${v.name}\\b|\\[\\[${v.name}\\]\\]`;
    const uses = new RegExp(source);
    const pattern = new RegExp(source, "g");
    const values =
      v.type === "custom" ? (v.options ?? []).map((o) => o.value) : v.name === "job" ? [job] : [];
    if (values.length === 0) continue;
    variants = variants.flatMap((e) =>
      uses.test(e) ? values.map((value) => e.replaceAll(pattern, value)) : [e],
    );
  }
  return [...new Set(variants)];
}
