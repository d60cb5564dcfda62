import { readFile } from "node:fs/promises";
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
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (tokenFile !== undefined) {
    let token: string;
    try {
      token = (await readFile(tokenFile, "utf8")).trim();
    } catch (err) {
      return {
        status: "failed",
        error: `cannot read controller.tokenFile ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
      };
    }
    headers.authorization = `Bearer ${token}`;
  }
  const url = new URL("v1/linking", restUrl.endsWith("/") ? restUrl : `${restUrl}/`);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ clusterId, vmId, linkingMs }),
      signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
    });
    if (res.ok) return { status: "recorded" };
    const body = (await res.json().catch(() => null)) as { code?: unknown; error?: unknown } | null;
    const why = [body?.code, body?.error].filter((x) => typeof x === "string").join(": ");
    return { status: "failed", error: `${url.href} answered ${res.status}${why ? ` (${why})` : ""}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why =
      e.name === "TimeoutError" ? `no answer within ${REPORT_TIMEOUT_MS} ms` : (e.cause?.code ?? e.message);
    return { status: "failed", error: `${url.href}: ${why}` };
  }
}
