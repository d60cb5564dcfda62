/**
 * The demo's figures next to the paper's (pure): Figure 5's phases, Sec. 6.2's linking, update
 * and downtime, Figure 7's cluster against one VM. The paper gives Figure 5 as a chart; its text
 * (Sec. 6.1) gives the values below for the 800 MB image, which is what we print beside ours.
 */
import type { MeshReport } from "../lab/probe-mesh.ts";
import { TIMED_PHASES, type TimedPhase } from "../mediation/model/migration.ts";

/** Sec. 6.1's words on Figure 5 (800 MB image), in seconds. */
export const PAPER_FIG5: Record<TimedPhase | "total", string> = {
  source_auth: "~0 (one GET)",
  image_creation: "-",
  image_download: "40-50",
  target_auth: "~0 (one GET)",
  image_upload: "~10",
  security_setup: "< 4",
  instantiation: "~8",
  network_setup: "< 4",
  release_source: "-",
  total: "64.92",
};

/** Sec. 6.2 (ms). */
export const PAPER_SDN = { linking: 63, update: 26.5, downtime: 5.3 };

export const fmt = (n: number | null | undefined, digits = 1): string =>
  n === null || n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}

/** Per phase: the cluster members' mean and max, the single VM's, the paper's. */
export function phaseTable(
  members: readonly Record<string, number | null>[],
  solo: Record<string, number | null> | null,
  totals: { clusterS: number; soloS: number | null },
): string[] {
  // TIMED_PHASES is the paper's order (ours journals download and upload as they overlap).
  const rows = TIMED_PHASES.map((p) => {
    const xs = members.map((t) => t[p]).filter((x): x is number => typeof x === "number");
    const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
    return [p, fmt(mean, 2), fmt(xs.length ? Math.max(...xs) : null, 2), fmt(solo?.[p], 2), PAPER_FIG5[p]];
  });
  rows.push([
    "total (request -> every member done)",
    fmt(totals.clusterS, 2),
    "",
    fmt(totals.soloS, 2),
    PAPER_FIG5.total,
  ]);
  return table(["phase (s)", "cluster mean", "cluster max", "one VM", "paper, 800 MB"], rows);
}

export function sdnTable(f: {
  /** vm-init's configured time at first boots: the five interfaces created and configured. */
  firstBootMs: readonly number[];
  /** vm-init's linking time at power cycles: configured and icbr0 connected (DESIGN.md). */
  linkingMs: readonly number[];
  updateMs: number | null;
  controllerDowntimeMs: number | null;
  mesh: MeshReport;
  rebinds: number;
  /** The atomic commit's own duration: every member rebound. */
  commitMs: number | null;
}): string[] {
  return table(
    ["Sec. 6.2", "measured", "paper"],
    [
      [
        `linking time: vint0, enc0, icbr0, icbond0, eth0 created and configured, median of ${f.firstBootMs.length} first boots (ms)`,
        fmt(median(f.firstBootMs)),
        String(PAPER_SDN.linking),
      ],
      [
        `the same at a power cycle, and icbr0 connected, median of ${f.linkingMs.length} (ms)`,
        fmt(median(f.linkingMs)),
        "-",
      ],
      [`update time, mean of ${f.rebinds} rebinds (ms)`, fmt(f.updateMs), String(PAPER_SDN.update)],
      [`the cluster's atomic commit, all ${f.rebinds} rebinds (ms)`, fmt(f.commitMs), "-"],
      ["downtime, controller's probes, mean (ms)", fmt(f.controllerDowntimeMs), String(PAPER_SDN.downtime)],
      [
        "downtime, longest gap of any member pair's stream (ms)",
        fmt(f.mesh.longestGapMs),
        String(PAPER_SDN.downtime),
      ],
      [`probe packets lost between members (of ${f.mesh.sent})`, String(f.mesh.lost), "-"],
    ],
  );
}

/** Figure 7: the whole cluster's move against one VM's, same service, same clouds. */
export function clusterTable(f: { size: number; clusterS: number; soloS: number | null }): string[] {
  return table(
    ["Figure 7", "measured (s)", "paper"],
    [
      ["one VM", fmt(f.soloS, 2), "-"],
      [`${f.size} VMs with the SDN rebinds, one request`, fmt(f.clusterS, 2), "-"],
      [`${f.size} VMs / one VM`, f.soloS ? fmt(f.clusterS / f.soloS, 2) : "-", "about 1"],
    ],
  );
}

/** One line per pair with what it sent, lost and its longest gap. */
export function meshLines(mesh: MeshReport): string[] {
  return mesh.pairs.map(
    (p) =>
      `   ${p.from} -> ${p.to}: sent ${p.sent}, received ${p.received}, lost ${p.lost}, longest gap ${fmt(p.longestGapMs)} ms`,
  );
}
