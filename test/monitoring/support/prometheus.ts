import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { requirePart } from "../../support/parts.ts";
import { Child, freePort, GiveUp, tempDir, waitFor } from "./processes.ts";

export const PROMETHEUS = "/usr/bin/prometheus";

/** True when the prometheus server and promtool can run here; see requirePart (CI never skips). */
export function prometheusAvailable(): boolean {
  return requirePart("prometheus", "promtool");
}

export interface ScrapeJob {
  readonly jobName: string;
  /** host:port */
  readonly targets: readonly string[];
  readonly metricsPath?: string;
}

export interface PrometheusOptions {
  readonly jobs: readonly ScrapeJob[];
  /** Absolute paths. */
  readonly ruleFiles?: readonly string[];
  readonly scrapeInterval?: string;
  readonly evaluationInterval?: string;
}

/** One element of an instant vector from /api/v1/query. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  /** Prometheus sends values as strings; "NaN" and "+Inf" become NaN and Infinity. */
  readonly value: number;
}

export interface ApiRule {
  readonly type: "recording" | "alerting";
  readonly name: string;
  readonly query: string;
  readonly health: string;
  readonly lastError?: string;
  readonly lastEvaluation: string;
}

export interface ApiAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: string;
}

interface ApiResponse<T> {
  readonly status: "success" | "error";
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
}

/** A value as Prometheus writes it: a float, "NaN", "+Inf" or "-Inf" (and a bucket's le label likewise). */
export function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/**
 * A real Prometheus server on 127.0.0.1 (a free port), with its own generated config and TSDB in a
 * temp dir. `stop()` kills it and removes the dir; call it in afterAll.
 */
export class RunningPrometheus {
  readonly url: string;
  readonly #child: Child;
  readonly #dir: { path: string; remove: () => void };

  private constructor(url: string, child: Child, dir: { path: string; remove: () => void }) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
  }

  static async start(options: PrometheusOptions): Promise<RunningPrometheus> {
    const dir = tempDir("icsdn-prometheus-");
    try {
      // JSON is YAML: no YAML writer needed.
      const config = {
        global: {
          scrape_interval: options.scrapeInterval ?? "1s",
          scrape_timeout: options.scrapeInterval ?? "1s",
          evaluation_interval: options.evaluationInterval ?? "1s",
        },
        rule_files: options.ruleFiles ?? [],
        scrape_configs: options.jobs.map((job) => ({
          job_name: job.jobName,
          metrics_path: job.metricsPath ?? "/metrics",
          static_configs: [{ targets: job.targets }],
        })),
      };
      const configFile = join(dir.path, "prometheus.yml");
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      // Another process may take the port between freePort() and Prometheus binding it: retry.
      let lastError: Error | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        const port = await freePort();
        const child = new Child(PROMETHEUS, [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir.path, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--storage.tsdb.retention.time=1h",
          "--log.level=warn",
        ]);
        const url = `http://127.0.0.1:${port}`;
        try {
          await waitFor(`Prometheus ready on ${url}`, async () => {
            if (!child.running) throw new GiveUp(`prometheus exited: ${child.output}`);
            const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
            return res.ok ? true : undefined;
          });
          return new RunningPrometheus(url, child, dir);
        } catch (err) {
          await child.stop();
          lastError = err as Error;
          if (!/address already in use/.test(child.output)) break;
        }
      }
      throw lastError ?? new Error("prometheus did not start");
    } catch (err) {
      dir.remove();
      throw err;
    }
  }

  /** Kills the server (SIGTERM, then SIGKILL) and removes its config and TSDB. */
  async stop(): Promise<void> {
    try {
      await this.#child.stop();
    } finally {
      this.#dir.remove();
    }
  }

  get output(): string {
    return this.#child.output;
  }

  async #get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${this.url}${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as ApiResponse<T>;
    if (body.status !== "success" || body.data === undefined) {
      throw new Error(
        `${path} ${JSON.stringify(params)}: ${body.errorType ?? res.status}: ${body.error ?? ""}`,
      );
    }
    return body.data;
  }

  /** An instant query now; throws on a PromQL error, and on a result that is not a vector. */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.#get<{
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    }>("/api/v1/query", { query: expr });
    if (data.resultType !== "vector") throw new Error(`${expr}: a ${data.resultType}, not a vector`);
    return data.result.map((r) => ({ metric: r.metric, value: parseValue(r.value[1]) }));
  }

  /** The single value of `expr`, or undefined while it has no sample yet; throws if it has several. */
  async value(expr: string): Promise<number | undefined> {
    const samples = await this.query(expr);
    if (samples.length > 1) throw new Error(`${expr}: ${samples.length} samples, expected one`);
    return samples[0]?.value;
  }

  async rules(): Promise<{ name: string; file: string; rules: ApiRule[] }[]> {
    return (await this.#get<{ groups: { name: string; file: string; rules: ApiRule[] }[] }>("/api/v1/rules"))
      .groups;
  }

  async alerts(): Promise<ApiAlert[]> {
    return (await this.#get<{ alerts: ApiAlert[] }>("/api/v1/alerts")).alerts;
  }

  async targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string }[]> {
    return (
      await this.#get<{
        activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
      }>("/api/v1/targets")
    ).activeTargets;
  }
}
