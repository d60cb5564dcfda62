import fc from "fast-check";
import type { ClusterState } from "../../../controller/model/cluster-state.ts";
import { type MemberSpec, makeState } from "./fixtures.ts";

const TEST_NETS = ["192.0.2", "198.51.100", "203.0.113"] as const;

export const endpointArb = fc
  .tuple(fc.constantFrom(...TEST_NETS), fc.integer({ min: 1, max: 254 }))
  .map(([net, host]) => `${net}.${host}`);

/** n distinct endpoints. */
export function endpointsArb(n: number): fc.Arbitrary<string[]> {
  return fc.uniqueArray(endpointArb, { minLength: n, maxLength: n });
}

export interface Pool {
  readonly vni: number;
  /** vmId, vint0, and two distinct endpoints the member may have. */
  readonly members: readonly { vmId: string; vint0: string; endpoints: readonly [string, string] }[];
}

/** Up to `max` possible members with distinct vint0s (198.18.0.0/24) and distinct endpoints. */
export function poolArb(max = 7): fc.Arbitrary<Pool> {
  return fc.integer({ min: 1, max }).chain((n) =>
    fc
      .record({
        vni: fc.integer({ min: 1, max: 0xffffff }),
        hosts: fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: n, maxLength: n }),
        endpoints: endpointsArb(2 * n),
      })
      .map(({ vni, hosts, endpoints }) => ({
        vni,
        members: hosts.map((h, i) => ({
          vmId: `vm${i}`,
          vint0: `198.18.0.${h}`,
          endpoints: [endpoints[2 * i]!, endpoints[2 * i + 1]!] as const,
        })),
      })),
  );
}

/** Per pool member: absent, present with no endpoint, or present with endpoint 0 or 1. */
export type Pick = "absent" | "unknown" | 0 | 1;
export const pickArb: fc.Arbitrary<Pick> = fc.constantFrom<Pick>("absent", "unknown", 0, 1, 0, 1);

/**
 * The state `picks` describe; members i with `announced[i]` also have a next endpoint: the one of
 * their two they do not use.
 */
export function stateFrom(
  pool: Pool,
  picks: readonly Pick[],
  announced: readonly boolean[] = [],
): ClusterState {
  const specs: MemberSpec[] = [];
  pool.members.forEach((m, i) => {
    const pick = picks[i] ?? "absent";
    if (pick === "absent") return;
    const next = announced[i] ? m.endpoints[pick === 1 ? 0 : 1] : null;
    specs.push([m.vmId, m.vint0, pick === "unknown" ? null : m.endpoints[pick], next]);
  });
  return makeState(pool.vni, specs);
}

export function picksArb(pool: Pool): fc.Arbitrary<Pick[]> {
  return fc.array(pickArb, { minLength: pool.members.length, maxLength: pool.members.length });
}

/** Which members have announced a next endpoint (see stateFrom). */
export function announcedArb(pool: Pool): fc.Arbitrary<boolean[]> {
  return fc.array(fc.boolean(), { minLength: pool.members.length, maxLength: pool.members.length });
}

/** A cluster state with at least one member. */
export const stateArb: fc.Arbitrary<ClusterState> = poolArb()
  .chain((pool) =>
    fc
      .tuple(picksArb(pool), announcedArb(pool))
      .map(([picks, announced]) => stateFrom(pool, picks, announced)),
  )
  .filter((s) => s.members.length > 0);
