import { readFile } from "node:fs/promises";
import { ControllerClient } from "../contract/controller-api/client.ts";
import { IcsdnError } from "../contract/errors/index.ts";
import type { VmInitConfig } from "./config.ts";

/** What became of the linking report to the controller (apply's result carries it). */
export type LinkingReport =
  | { readonly status: "recorded" }
  | { readonly status: "failed"; readonly error: string };

/** The controller answers within this or the report is given up: the network is up either way. */
export const REPORT_TIMEOUT_MS = 2000;

/**
 * POSTs `linkingMs` for this VM to the controller's /v1/linking (DESIGN.md: the controller records
 * every VM's linking time). Best effort: the VM is linked whatever happens here, so failures are
 * returned, never thrown. The token is read from its file now and appears in no message.
 */
export async function reportLinking(
  controller: Pick<VmInitConfig["controller"], "restUrl" | "vmId" | "tokenFile">,
  clusterId: string,
  linkingMs: number,
): Promise<LinkingReport> {
  const { restUrl, vmId, tokenFile } = controller;
  if (restUrl === undefined || vmId === undefined)
    return { status: "failed", error: "no restUrl and vmId configured" };
  let token: string | undefined;
  if (tokenFile !== undefined) {
    try {
      token = (await readFile(tokenFile, "utf8")).trim();
    } catch (err) {
      return {
        status: "failed",
        error: `cannot read controller.tokenFile ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
      };
    }
  }
  const client = new ControllerClient({ url: restUrl, token, timeoutMs: REPORT_TIMEOUT_MS });
  try {
    await client.reportLinking({ clusterId, vmId, linkingMs });
    return { status: "recorded" };
  } catch (err) {
    if (err instanceof IcsdnError) return { status: "failed", error: err.message };
    throw err;
  }
}
