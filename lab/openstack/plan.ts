/**
 * The lab's OpenStack clouds on the lab's address plan (pure): cloud a and b are regions
 * `region-a` and `region-b` of one Keystone, each with its own Glance, Placement, Nova and Neutron
 * at its own ports. Neutron's networks are the lab cloud's: `private` is the provider network
 * (gateway = the lab router) and `public` the floating range; Neutron hands out the upper part of
 * each pool and the lab's own VMs (`lab up --vms`) take theirs from the bottom.
 */
import { cloudPlan, intToIp, ipToInt, type Pool } from "../plan.ts";

export const OPENSTACK_MAX_CLOUDS = 2;
export const KEYSTONE_URL = "http://127.0.0.1:5000/v3";

export interface OpenStackCloudPlan {
  readonly name: string;
  readonly region: string;
  /** clouds.yaml entries: the cloud's own user and project, and admin in that region. */
  readonly entry: string;
  readonly adminEntry: string;
  readonly user: string;
  readonly project: string;
  readonly provider: string;
  readonly gateway: string;
  readonly fixedPool: Pool;
  readonly floatingRange: string;
  readonly floatingPool: Pool;
  readonly ports: {
    readonly glance: number;
    readonly nova: number;
    readonly placement: number;
    readonly neutron: number;
  };
}

export function openstackPlan(clouds: number): OpenStackCloudPlan[] {
  if (!Number.isInteger(clouds) || clouds < 1 || clouds > OPENSTACK_MAX_CLOUDS) {
    throw new Error(`OpenStack clouds must be 1..${OPENSTACK_MAX_CLOUDS}, not ${clouds}`);
  }
  return Array.from({ length: clouds }, (_, i) => {
    const p = cloudPlan(i);
    const base = ipToInt(p.provider.split("/")[0]!);
    const floatingBase = ipToInt(p.floatingRange.split("/")[0]!);
    return {
      name: p.name,
      region: `region-${p.name}`,
      entry: `lab-${p.name}`,
      adminEntry: `lab-${p.name}-admin`,
      user: `user-${p.name}`,
      project: `project-${p.name}`,
      provider: p.provider,
      gateway: p.routerProviderIp,
      fixedPool: { first: intToIp(base + 64), last: p.fixedPool.last },
      floatingRange: p.floatingRange,
      floatingPool: { first: intToIp(floatingBase + 16), last: p.floatingPool.last },
      ports: { glance: 9292 + i, nova: 8774 + i, placement: 8778 + i, neutron: 9696 + i },
    };
  });
}
