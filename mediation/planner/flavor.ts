import type { Flavor, FlavorSpec } from "../clouds/cloud-driver.ts";

/**
 * The target flavor for a source server: an explicit mapping (by source flavor name) if the
 * operator gave one, else the smallest flavor with at least the source's vCPUs, RAM and disk.
 */
export function matchFlavor(
  source: FlavorSpec,
  candidates: readonly Flavor[],
  mapped: string | undefined,
): Flavor | undefined {
  if (mapped !== undefined) return candidates.find((f) => f.name === mapped || f.id === mapped);
  return candidates
    .filter((f) => f.vcpus >= source.vcpus && f.ramMb >= source.ramMb && f.diskGb >= source.diskGb)
    .sort(
      (a, b) => a.vcpus - b.vcpus || a.ramMb - b.ramMb || a.diskGb - b.diskGb || a.name.localeCompare(b.name),
    )[0];
}
