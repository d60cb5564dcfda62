import type { CloudDriver } from "../clouds/cloud-driver.ts";
import type { Journal } from "../journal/journal.ts";
import type { UndoAction } from "../model/migration.ts";
import type { ControllerPort } from "../ports/controller.ts";

export interface UndoContext {
  readonly migrationId: string;
  readonly member: string;
  readonly clusterId: string | null;
  readonly journal: Journal;
  readonly source: CloudDriver;
  readonly target: CloudDriver;
  readonly controller: ControllerPort;
  readonly serverDeadlineMs: number;
}

/**
 * Carries out one undo or release action and journals it done. A resource whose id the journal
 * never got (a crash between the intent and the answer) is found by the name it was created with;
 * a server also by our migration marker, so another server of that name is never touched.
 */
export async function runUndo(ctx: UndoContext, action: UndoAction): Promise<void> {
  // What decided this action (the commit before a release, the failure before a rollback) is on
  // disk before anything is deleted.
  await ctx.journal.durable();
  if (action.do === "rebind_back" || action.do === "withdraw") {
    if (ctx.clusterId !== null) {
      if (action.do === "withdraw") await ctx.controller.withdraw(ctx.clusterId, ctx.member);
      else if (action.endpoint !== "")
        await ctx.controller.rebind(ctx.clusterId, ctx.member, action.endpoint);
    }
    ctx.journal.deleted(ctx.migrationId, action.seq);
    return;
  }
  const driver = action.side === "source" ? ctx.source : ctx.target;
  let ids: readonly string[];
  if (action.id !== null) ids = [action.id];
  else {
    ids = await driver.lookupByName(action.kind, action.name);
    if (action.kind === "server") {
      const ours: string[] = [];
      for (const id of ids) {
        const s = await driver.findServer(id);
        if (s?.metadata.icsdn_migration === ctx.migrationId) ours.push(id);
      }
      ids = ours;
    }
  }
  for (const id of ids) {
    switch (action.kind) {
      case "server":
        await driver.deleteServer(id);
        await driver.waitServer(id, "gone", ctx.serverDeadlineMs);
        break;
      case "image":
        await driver.deleteImage(id);
        break;
      case "floating_ip":
        await driver.deleteFloatingIp(id);
        break;
      case "security_group":
        await driver.deleteSecurityGroup(id);
        break;
      case "keypair":
        await driver.deleteKeyPair(id);
        break;
    }
  }
  ctx.journal.deleted(ctx.migrationId, action.seq);
}
