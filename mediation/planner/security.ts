import type { SecurityGroup, SecurityGroupRule } from "../clouds/cloud-driver.ts";

export interface SecurityPlan {
  /** Groups the target lacks, by name, with the rules to copy. */
  readonly create: readonly {
    readonly name: string;
    readonly description: string;
    readonly rules: readonly SecurityGroupRule[];
  }[];
  /** Groups the target already has by that name (e.g. `default`): used as they are. */
  readonly reuse: readonly string[];
  /** Remote groups the rules name that neither the plan nor the target provides. */
  readonly missingRemotes: readonly string[];
}

/**
 * Copies the server's security groups by name: a group the target has is reused, one it lacks is
 * created with the source's rules. Remote-group rules point at groups by name, resolved to the
 * target's ids when the rules are added.
 */
export function planSecurityGroups(
  serverGroups: readonly string[],
  source: readonly SecurityGroup[],
  target: readonly SecurityGroup[],
): SecurityPlan {
  const targetNames = new Set(target.map((g) => g.name));
  const create: SecurityPlan["create"][number][] = [];
  const reuse: string[] = [];
  for (const name of serverGroups) {
    if (targetNames.has(name)) {
      reuse.push(name);
      continue;
    }
    const group = source.find((g) => g.name === name);
    if (!group) continue;
    create.push({ name, description: group.description, rules: group.rules });
  }
  const provided = new Set([...targetNames, ...create.map((c) => c.name)]);
  const missingRemotes = [
    ...new Set(
      create
        .flatMap((c) => c.rules.map((r) => r.remoteGroupName))
        .filter((n): n is string => n !== null && !provided.has(n)),
    ),
  ];
  return { create, reuse, missingRemotes };
}
