import { freePort, removeDb, startControllerProcess } from "../lab/controller-lab.ts";
import { stopAllOvs } from "../test/controller/openflow/support/ovs-switch.ts";
import { type Bench, type Figure, median } from "./figures.ts";
import { type CommitRound, timeCommit } from "./support/commit-time.ts";

// The atomic commit of a cluster migration with 4 and 16 members (support/commit-time.ts): the
// real runner and coordinator against the real controller process, every member's new switch a
// real OVS (private daemons, no lab, no lock); the clouds are in memory, as 16 servers through the
// lab's Nova are too heavy for this machine. Rounds alternate between the sizes.
const SIZES = [4, 16] as const;
const ROUNDS = 5;
const log = (line: string) => process.stderr.write(`[mediation-commit bench] ${line}\n`);

const bench: Bench = {
  title:
    "mediation: a cluster migration's atomic commit, 4 and 16 members (real controller and OVS, clouds in memory)",
  async run(): Promise<Figure[]> {
    const ctl = await startControllerProcess({ openflowPort: await freePort() });
    const rounds = new Map<number, CommitRound[]>(SIZES.map((n) => [n, []]));
    try {
      for (let r = 0; r < ROUNDS; r++) {
        for (const n of r % 2 === 0 ? SIZES : [...SIZES].reverse()) {
          const round = await timeCommit(ctl, n, `r${r}-${n}`);
          rounds.get(n)!.push(round);
          log(
            `${n} members, round ${r + 1}: commit ${round.commitMs} ms (first rebind request +${round.firstRequestMs} ms, last +${round.lastRequestMs} ms, last answer +${round.lastAnswerMs} ms; slowest rebind at the controller ${round.maxUpdateMs.toFixed(1)} ms)`,
          );
        }
      }
    } finally {
      stopAllOvs();
      await ctl.stop();
      removeDb(ctl.dbPath);
    }
    return SIZES.flatMap((n) => {
      const of = (k: keyof CommitRound) => median(rounds.get(n)!.map((x) => x[k]));
      return [
        {
          name: `mediation.cluster.commit_ms.${n}_members`,
          value: of("commitMs"),
          unit: `ms (median of ${ROUNDS}: commit start -> last rebind answer; real OVS, clouds in memory)`,
        },
        {
          name: `mediation.cluster.commit_first_request_ms.${n}_members`,
          value: of("firstRequestMs"),
          unit: "ms (median: commit start -> first rebind request sent)",
        },
        {
          name: `mediation.cluster.commit_max_update_ms.${n}_members`,
          value: of("maxUpdateMs"),
          unit: "ms (median: the slowest rebind at the controller, its wait for the cluster's lock included)",
        },
      ];
    });
  },
};

export default bench;
