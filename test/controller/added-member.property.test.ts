import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IcsdnError } from "../../contract/errors/index.ts";
import { checkAddedMember, checkMemberConflicts } from "../../controller/model/cluster-state.ts";
import { type Member, memberOf } from "../../controller/model/member.ts";

// An add checks only the new member against the stored ones (checkAddedMember): the same refusal
// as checking the whole list (checkMemberConflicts) when the stored ones are conflict-free.

const cluster = { id: "web", vni: 42 };
const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
const memberArb = fc.record({
  vmId: pick(["a", "b", "c", "d"]),
  vint0: pick(["198.18.0.1", "198.18.0.2", "198.18.0.3"]),
  endpoint: pick([null, "192.0.2.1", "192.0.2.2", "192.0.2.3"]),
  next: pick([null, "192.0.2.1", "192.0.2.4", "192.0.2.5"]),
});

function outcome(fn: () => void): unknown {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (err instanceof IcsdnError)
      return { code: err.code, field: err.field, message: err.message, details: err.details };
    throw err;
  }
}

describe("checkAddedMember", () => {
  it("refuses exactly as checkMemberConflicts over the stored members plus the added one", () => {
    fc.assert(
      fc.property(fc.array(memberArb, { maxLength: 5 }), memberArb, (stored, added) => {
        const members: Member[] = [];
        for (const s of stored) {
          const m = memberOf(
            cluster,
            { vmId: s.vmId, vint0: s.vint0, endpoint: s.endpoint, description: "" },
            s.next,
          );
          // Only conflict-free stored members (as the store holds them).
          if (outcome(() => checkMemberConflicts([...members, m], () => "")) === "ok") members.push(m);
        }
        const m = memberOf(cluster, {
          vmId: added.vmId,
          vint0: added.vint0,
          endpoint: added.endpoint,
          description: "",
        });
        expect(outcome(() => checkAddedMember(members, m))).toEqual(
          outcome(() => checkMemberConflicts([...members, m], () => "")),
        );
      }),
      { numRuns: 1000 },
    );
  });
});
