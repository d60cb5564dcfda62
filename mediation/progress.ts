/** One line of migration progress: phase, bytes, rate, ETA. Pure, for the TTY bar and plain logs. */
export function progressLine(
  p: { phase: string; done: number; total: number | null; rate: number; eta: number | null },
  width = 24,
): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const share = p.total ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(share * width);
  const bar = p.total
    ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% `
    : "";
  const eta = p.eta === null ? "" : ` ETA ${p.eta.toFixed(0)}s`;
  return `${p.phase.padEnd(14)} ${bar}${mb(p.done)}${p.total ? ` / ${mb(p.total)}` : ""} ${mb(p.rate)}/s${eta}`;
}

/** One bar per member of a cluster migration, member names aligned (the TTY redraws them in place). */
export function clusterBars(
  members: readonly {
    member: string;
    phase: string;
    state: string;
    bytesDone: number;
    bytesTotal: number | null;
    rate: number;
    eta: number | null;
  }[],
  width = 24,
): string[] {
  const pad = Math.max(6, ...members.map((m) => m.member.length));
  return members.map(
    (m) =>
      `${m.member.padEnd(pad)} ${m.state.padEnd(9)} ${progressLine(
        { phase: m.phase, done: m.bytesDone, total: m.bytesTotal, rate: m.rate, eta: m.eta },
        width,
      )}`,
  );
}
