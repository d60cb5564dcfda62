/**
 * Following one migration from the client side, for callers that act on its moments (a probe
 * stream that must listen on the new instance before its rebind, a demo that prints phases): the
 * events as they come, when each was first seen (epoch ms, this process's clock), and the
 * target server's id as soon as the journal has it (polled: no event carries it).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { MigrationView } from "./api/views.ts";
import type { MediationClient, SseEvent } from "./client.ts";

export interface FollowHooks {
  /** The target server exists (its id is journaled); called once. */
  readonly onTargetServer?: (serverId: string) => void;
  readonly onEvent?: (event: SseEvent, at: number) => void;
}

export interface Followed {
  readonly view: MigrationView;
  /** First time each event type arrived, and its data. */
  readonly seen: ReadonlyMap<string, { readonly at: number; readonly data: Record<string, unknown> }>;
  readonly targetServerId: string | undefined;
}

const POLL_MS = 200;

/** The target server's id in a view, once created. */
export function targetServerId(view: MigrationView): string | undefined {
  return view.resources.find((r) => r.side === "target" && r.kind === "server" && r.id)?.id ?? undefined;
}

/** Follows migration `id` until it ends. */
export async function followMigration(
  client: MediationClient,
  id: string,
  hooks: FollowHooks = {},
): Promise<Followed> {
  const seen = new Map<string, { at: number; data: Record<string, unknown> }>();
  let serverId: string | undefined;
  let ended = false;
  const poll = (async () => {
    while (!ended && serverId === undefined) {
      const found = targetServerId(await client.get(id));
      if (found) {
        serverId = found;
        hooks.onTargetServer?.(found);
      } else await sleep(POLL_MS);
    }
  })();
  try {
    for await (const e of client.events(id)) {
      const at = Date.now();
      if (!seen.has(e.type)) seen.set(e.type, { at, data: e.data });
      hooks.onEvent?.(e, at);
    }
  } finally {
    ended = true;
    await poll;
  }
  const view = await client.get(id);
  return { view, seen, targetServerId: serverId ?? targetServerId(view) };
}
