import type { SecurityGroup, SecurityGroupRule } from "../clouds/cloud-driver.ts";
import { planSecurityGroups } from "./security.ts";

/** What one member's target server will name: its security groups and key pair, by name. */
export interface MemberNeed {
  readonly sourceCloud: string;
  readonly targetCloud: string;
  readonly securityGroups: readonly string[];
  readonly keyName: string | undefined;
}

/** What a target cloud lacks that several members may need: made once, by the cluster. */
export interface SharedPlan {
  readonly cloud: string;
  readonly groups: readonly {
    readonly name: string;
    readonly description: string;
    readonly rules: readonly SecurityGroupRule[];
  }[];
  /** Key pairs to import, each with the source cloud its public key is read from. */
  readonly keyPairs: readonly { readonly name: string; readonly sourceCloud: string }[];
}

export interface SharedFacts {
  readonly sourceGroups: ReadonlyMap<string, readonly SecurityGroup[]>;
  readonly targetGroups: ReadonlyMap<string, readonly SecurityGroup[]>;
  /** Per target cloud, the members' key pair names it already has. */
  readonly targetKeyPairs: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The union, per target cloud, of what the members' own security step would create there: the
 * groups the target lacks (rules from the first member's source that has the group; a member
 * whose source lacks it creates nothing, as alone) and the key pairs it lacks. Created before any
 * member prepares, members then find them and reuse them: two members never create one name twice
 * (Neutron allows duplicate group names, Nova then refuses a server naming one), and no member's
 * rollback deletes what another member's server uses.
 */
export function planSharedResources(needs: readonly MemberNeed[], facts: SharedFacts): SharedPlan[] {
  const plans = new Map<
    string,
    { groups: SharedPlan["groups"][number][]; keyPairs: SharedPlan["keyPairs"][number][] }
  >();
  for (const need of needs) {
    let plan = plans.get(need.targetCloud);
    if (!plan) {
      plan = { groups: [], keyPairs: [] };
      plans.set(need.targetCloud, plan);
    }
    // Groups planned for an earlier member count as the target's: each name is created once.
    const target = [
      ...(facts.targetGroups.get(need.targetCloud) ?? []),
      ...plan.groups.map((g) => ({ id: "", ...g })),
    ];
    const own = planSecurityGroups(
      need.securityGroups,
      facts.sourceGroups.get(need.sourceCloud) ?? [],
      target,
    );
    plan.groups.push(...own.create);
    const key = need.keyName;
    if (
      key !== undefined &&
      !facts.targetKeyPairs.get(need.targetCloud)?.has(key) &&
      !plan.keyPairs.some((k) => k.name === key)
    )
      plan.keyPairs.push({ name: key, sourceCloud: need.sourceCloud });
  }
  return [...plans]
    .filter(([, p]) => p.groups.length > 0 || p.keyPairs.length > 0)
    .map(([cloud, p]) => ({ cloud, groups: p.groups, keyPairs: p.keyPairs }));
}
