import { readFile, writeFile } from "node:fs/promises";

/** One measured figure, as stored in bench/results.json. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
}

/** What every bench/*.bench.ts default-exports. */
export interface Bench {
  readonly title: string;
  run(): Promise<Figure[]>;
}

/** Merges figures into the results file, keeping figures other benches wrote. */
export async function mergeResults(path: string, figures: Figure[]): Promise<void> {
  let current: Record<string, { value: number; unit: string }> = {};
  try {
    current = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  for (const f of figures) current[f.name] = { value: f.value, unit: f.unit };
  const sorted = Object.fromEntries(Object.entries(current).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(path, `${JSON.stringify(sorted, null, 2)}\n`);
}

/**
 * Operations per second of `fn`: the median of `rounds` timed rounds after a warm-up, so one
 * noisy round on a shared machine does not decide the figure.
 */
export function opsPerSecond(fn: () => void, opsPerRound: number, rounds = 7): number {
  for (let i = 0; i < opsPerRound; i++) fn();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) fn();
    const ns = Number(process.hrtime.bigint() - start);
    rates.push((opsPerRound * 1e9) / ns);
  }
  return median(rates);
}

/**
 * Per-round operations per second of each of `fns`, their rounds interleaved (a, b, a, b, ...)
 * so they see the same machine: a ratio between them is then taken round by round.
 */
export function opsPerSecondSideBySide(
  fns: readonly (() => void)[],
  opsPerRound: number,
  rounds = 9,
): number[][] {
  for (const fn of fns) for (let i = 0; i < opsPerRound; i++) fn();
  const rates = fns.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, k) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < opsPerRound; i++) fn();
      rates[k]!.push((opsPerRound * 1e9) / Number(process.hrtime.bigint() - start));
    });
  }
  return rates;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Nearest-rank quantile. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
