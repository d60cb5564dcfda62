import type { Flavor, Quotas, ServerInfo } from "../clouds/cloud-driver.ts";
import type { FormatPlan } from "../transfer/format-plan.ts";
import { matchFlavor } from "./flavor.ts";

/** One reason a migration cannot start, naming the request field or the thing at fault. */
export interface Problem {
  readonly field: string;
  readonly message: string;
}

/**
 * What the shell found out about both clouds and the controller, without creating anything.
 * A fact that could not be learned is an error message; undefined means not looked up (because
 * what it depends on already failed).
 */
export interface PrecheckFacts {
  readonly sourceCloud: string;
  readonly targetCloud: string;
  readonly server: string;
  readonly member: string;
  readonly sourceAuthError?: string;
  readonly targetAuthError?: string;
  readonly serverInfo?: ServerInfo | null;
  readonly targetFlavors?: readonly Flavor[];
  readonly mappedFlavor?: string;
  readonly quotas?: Quotas;
  readonly targetNetwork?: { readonly name: string; readonly found: boolean };
  readonly controllerError?: string;
  readonly memberKnown?: boolean;
  readonly missingRemoteGroups?: readonly string[];
  /** How the server's disk would enter the target (from the image it booted from). */
  readonly imageFormat?: FormatPlan;
}

export interface PrecheckResult {
  readonly problems: readonly Problem[];
  readonly flavor: Flavor | undefined;
}

/** Every problem at once, so the caller fixes them in one go; no problem means the plan may run. */
export function precheck(f: PrecheckFacts): PrecheckResult {
  const problems: Problem[] = [];
  if (f.sourceAuthError !== undefined)
    problems.push({ field: "source.cloud", message: `cloud '${f.sourceCloud}': ${f.sourceAuthError}` });
  if (f.targetAuthError !== undefined)
    problems.push({ field: "target.cloud", message: `cloud '${f.targetCloud}': ${f.targetAuthError}` });
  if (f.sourceCloud === f.targetCloud)
    problems.push({ field: "target.cloud", message: "the target cloud is the source cloud" });
  const server = f.serverInfo;
  if (server === null)
    problems.push({ field: "server", message: `cloud '${f.sourceCloud}' has no server '${f.server}'` });
  else if (server && server.status !== "ACTIVE") {
    problems.push({ field: "server", message: `server '${f.server}' is ${server.status}, not ACTIVE` });
  }
  let flavor: Flavor | undefined;
  if (server && f.targetFlavors) {
    flavor = matchFlavor(server.flavor, f.targetFlavors, f.mappedFlavor);
    if (!flavor) {
      problems.push({
        field: f.mappedFlavor !== undefined ? "flavor" : "server",
        message:
          f.mappedFlavor !== undefined
            ? `cloud '${f.targetCloud}' has no flavor '${f.mappedFlavor}'`
            : `cloud '${f.targetCloud}' has no flavor with at least ${server.flavor.vcpus} vCPUs, ${server.flavor.ramMb} MB RAM and ${server.flavor.diskGb} GB disk`,
      });
    }
  }
  const q = f.quotas;
  if (q) {
    const short = (
      name: string,
      left: (x: { limit: number; used: number }) => boolean,
      quota: { limit: number; used: number },
      need: number,
    ) => {
      if (quota.limit >= 0 && !left(quota)) {
        problems.push({
          field: "target.cloud",
          message: `cloud '${f.targetCloud}': quota of ${name} exceeded (${quota.used} of ${quota.limit} used, ${need} more needed)`,
        });
      }
    };
    short("instances", (x) => x.limit - x.used >= 1, q.instances, 1);
    short("floating IPs", (x) => x.limit - x.used >= 1, q.floatingIps, 1);
    if (server && flavor) {
      short("cores", (x) => x.limit - x.used >= flavor.vcpus, q.cores, flavor.vcpus);
      short("RAM (MB)", (x) => x.limit - x.used >= flavor.ramMb, q.ramMb, flavor.ramMb);
    }
  }
  if (f.targetNetwork && !f.targetNetwork.found) {
    problems.push({
      field: "target.network",
      message: `cloud '${f.targetCloud}' has no network '${f.targetNetwork.name}'`,
    });
  }
  if (f.controllerError !== undefined)
    problems.push({ field: "member", message: `the controller cannot be asked: ${f.controllerError}` });
  else if (f.memberKnown === false)
    problems.push({ field: "member", message: `member '${f.member}' is in no cluster the controller knows` });
  for (const g of f.missingRemoteGroups ?? []) {
    problems.push({
      field: "server",
      message: `a security group rule admits group '${g}', which cloud '${f.targetCloud}' lacks and the server does not use`,
    });
  }
  if (f.imageFormat?.kind === "refused") {
    problems.push({
      field: "target.cloud",
      message: `cloud '${f.targetCloud}' cannot take the disk of server '${f.server}': ${f.imageFormat.reason}`,
    });
  }
  return { problems, flavor };
}
