import type { ControllerPort, MemberEndpoint } from "../ports/controller.ts";

interface Held extends MemberEndpoint {
  readonly clusterId: string;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * An atomic commit's rebinds as one batch rebind at the controller (POST .../rebinds): the
 * members' runners stay as they are (each journals its rebind intent, then calls `rebind`), but
 * through `port` a commit member's call is held until every member of the commit has called, then
 * one batch goes out and each call is answered from it, its error included (all or nothing, as
 * the controller commits). Calls of members outside a begun commit go straight through.
 *
 * A member that will not call (it failed, the cluster is rolling back) must not leave the others
 * waiting: `abandon` fails the held calls, and any made later, with the rollback's reason; nothing
 * was sent, and each runner's rollback rebinds its member back (a no-op at the controller).
 */
export class CommitBatch {
  readonly #base: ControllerPort;
  readonly #send: (clusterId: string, rebinds: readonly MemberEndpoint[]) => Promise<void>;
  #members: ReadonlySet<string> | undefined;
  readonly #held = new Map<string, Held>();
  #sent = false;
  #abandoned: unknown;
  /** What the commit's members get instead of the controller port. */
  readonly port: ControllerPort;

  /** `send` is the controller's batch rebind (ControllerPort.rebindBatch). */
  constructor(
    base: ControllerPort,
    send: (clusterId: string, rebinds: readonly MemberEndpoint[]) => Promise<void>,
  ) {
    this.#base = base;
    this.#send = send;
    this.port = {
      findMember: (vmId) => base.findMember(vmId),
      clusterMembers: (clusterId) => base.clusterMembers(clusterId),
      announce: (clusterId, vmId, endpoint) => base.announce(clusterId, vmId, endpoint),
      withdraw: (clusterId, vmId) => base.withdraw(clusterId, vmId),
      rebind: (clusterId, vmId, endpoint) => this.#rebind(clusterId, vmId, endpoint),
      rebindBatch: send,
      switchSession: (clusterId, vmId) => base.switchSession(clusterId, vmId),
      ready: () => base.ready(),
    };
  }

  /** The commit begins: the rebinds of `members` (their vmIds) are held until all have come. */
  begin(members: Iterable<string>): void {
    this.#members = new Set(members);
  }

  /** The commit will not complete: held calls, and later ones, fail with `reason`. */
  abandon(reason: unknown): void {
    if (this.#sent || this.#abandoned !== undefined) return;
    this.#abandoned = reason;
    for (const h of this.#held.values()) h.reject(reason);
    this.#held.clear();
  }

  #rebind(clusterId: string, vmId: string, endpoint: string): Promise<void> {
    if (!this.#members?.has(vmId) || this.#sent) return this.#base.rebind(clusterId, vmId, endpoint);
    if (this.#abandoned !== undefined) return Promise.reject(this.#abandoned);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#held.set(vmId, { clusterId, vmId, endpoint, resolve, reject });
    if (this.#held.size === this.#members.size) this.#flush();
    return promise;
  }

  #flush(): void {
    this.#sent = true;
    const held = [...this.#held.values()];
    this.#held.clear();
    this.#send(
      held[0]!.clusterId,
      held.map(({ vmId, endpoint }) => ({ vmId, endpoint })),
    ).then(
      () => {
        for (const h of held) h.resolve();
      },
      (err: unknown) => {
        for (const h of held) h.reject(err);
      },
    );
  }
}
