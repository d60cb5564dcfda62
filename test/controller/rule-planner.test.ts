import { describe, expect, it } from "vitest";
import { formatRule } from "../../controller/compiler/format.ts";
import type { Rule } from "../../controller/compiler/rule.ts";
import { RulePlanner } from "../../controller/compiler/rule-planner.ts";
import { makeState } from "./support/fixtures.ts";

const three = makeState(42, [
  ["a", "198.18.0.1", "192.0.2.10"],
  ["b", "198.18.0.2", "198.51.100.20"],
  ["c", "198.18.0.3", "203.0.113.30"],
]);

const text = (rules: readonly Rule[]) => rules.map(formatRule);
const phaseRules = (plan: ReturnType<RulePlanner["rebind"]>) =>
  plan.flatMap((p) => p.batches.flatMap((b) => text([...b.add, ...b.delete])));

describe("RulePlanner", () => {
  const probing = new RulePlanner({ probePort: 48879 });
  const plain = new RulePlanner({});

  it("applies its options everywhere it decides: desired rules, reconcile and plans all carry the probe rules", () => {
    expect(probing.probePort).toBe(48879);
    expect(plain.probePort).toBeUndefined();
    const desired = probing.desired(three, "a");
    expect(text(desired).filter((r) => r.includes("48879")).length).toBe(2);
    expect(text(plain.desired(three, "a")).some((r) => r.includes("48879"))).toBe(false);
    // A switch compiled without probes, reconciled by the probing planner, gets exactly the probe rules.
    const { desired: again, diff } = probing.reconcile(three, "a", plain.desired(three, "a"));
    expect(again).toEqual(desired);
    expect(text(diff.add)).toEqual(text(desired).filter((r) => r.includes("48879")));
    expect(diff.delete).toEqual([]);
    expect(probing.reconcile(three, "a", desired).diff).toEqual({ add: [], delete: [] });
    // The rebind's fresh switch gets what `desired` says it should hold after the move.
    const moved = probing.rebind(three, "a", "192.0.2.99");
    expect(phaseRules(moved).some((r) => r.includes("48879"))).toBe(true);
    expect(phaseRules(plain.rebind(three, "a", "192.0.2.99")).some((r) => r.includes("48879"))).toBe(false);
  });
});
