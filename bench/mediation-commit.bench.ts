import { freePort, removeDb, startControllerProcess } from "../lab/controller-lab.ts";
import { stopAllOvs } from "../test/controller/openflow/support/ovs-switch.ts";
import { type Bench, type Figure, median } from "./figures.ts";
import { type CommitRound, timeCommit } from "./support/commit-time.ts";

// The atomic commit of a cluster migration with 4 and 16 members (support/commit-time.ts): the
// real runner and coordinator against the real controller process, every member's new switch a
// real OVS (private daemons, no lab, no lock); the clouds are in memory, as 16 servers through the
// lab's Nova are too heavy for this machine. Each round runs both modes, interleaved: the commit
// as one batch rebind (what the service does) and each member's rebind on its own (as before
// POST .../rebinds existed), alternating their order and the sizes' from round to round.
const SIZES = [4, 16] as const;
const MODES = ["batch", "single"] as const;
const ROUNDS = 5;
const log = (line: string) => process.stderr.write(`[mediation-commit bench] ${line}\n`);

const bench: Bench = {
  title:
    "mediation: a cluster migration's atomic commit, 4 and 16 members, batch vs single rebinds (real controller and OVS, clouds in memory)",
  async run(): Promise<Figure[]> {
    const ctl = await startControllerProcess({ openflowPort: await freePort() });
    const rounds = new Map<string, CommitRound[]>();
    const key = (n: number, mode: string) => `${n}/${mode}`;
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const n of r % 2 === 0 ? SIZES : [...SIZES].reverse()) {
          for (const mode of (r + n) % 2 === 0 ? MODES : [...MODES].reverse()) {
            const round = await timeCommit(ctl, n, `r${r}-${n}-${mode}`, { batch: mode === "batch" });
            rounds.set(key(n, mode), [...(rounds.get(key(n, mode)) ?? []), round]);
            log(
              `${n} members, ${mode}, round ${r + 1}: commit ${round.commitMs} ms (first rebind request +${round.firstRequestMs} ms, last +${round.lastRequestMs} ms, last answer +${round.lastAnswerMs} ms; slowest rebind at the controller ${round.maxUpdateMs.toFixed(1)} ms)`,
            );
          }
        }
      }
    } finally {
      stopAllOvs();
      await ctl.stop();
      removeDb(ctl.dbPath);
    }
    return SIZES.flatMap((n) => {
      const of = (mode: string, k: keyof CommitRound) => median(rounds.get(key(n, mode))!.map((x) => x[k]));
      return [
        {
          name: `mediation.cluster.commit_ms.${n}_members`,
          value: of("batch", "commitMs"),
          unit: `ms (median of ${ROUNDS}: commit start -> last rebind answer, one batch rebind; real OVS, clouds in memory)`,
        },
        {
          name: `mediation.cluster.commit_ms_single.${n}_members`,
          value: of("single", "commitMs"),
          unit: `ms (median of ${ROUNDS}, same run: each member's rebind on its own, as before the batch)`,
        },
        {
          name: `mediation.cluster.commit_batch_vs_single.${n}_members`,
          value: of("batch", "commitMs") / of("single", "commitMs"),
          unit: "ratio of the two medians above (same run, interleaved)",
        },
        {
          name: `mediation.cluster.commit_first_request_ms.${n}_members`,
          value: of("batch", "firstRequestMs"),
          unit: "ms (median, batch: commit start -> the batch sent, every member's call held until the last)",
        },
        {
          name: `mediation.cluster.commit_max_update_ms.${n}_members`,
          value: of("batch", "maxUpdateMs"),
          unit: "ms (median, batch: the batch's update time at the controller)",
        },
        {
          name: `mediation.cluster.commit_max_update_ms_single.${n}_members`,
          value: of("single", "maxUpdateMs"),
          unit: "ms (median, single: the slowest rebind at the controller, its wait for the cluster's lock included)",
        },
      ];
    });
  },
};

export default bench;
