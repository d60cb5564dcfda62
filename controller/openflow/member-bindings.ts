import type { MemberRef } from "./switch-identity.ts";

/**
 * The member each certificate-bound session was admitted as, by dpid. A dpid can change hands
 * while a session stays up (a member removed, another added with the same vint0): the first
 * batch for the new member finds the session bound to the old one, which is then refused instead
 * of served. One map lookup per batch; sessions admitted without a member (unbound certificates
 * the operator allowed, plain TCP) are not here and not checked.
 */
export class MemberBindings<S> {
  readonly #byDpid = new Map<bigint, { member: MemberRef; sessions: Set<S> }>();

  /**
   * Binds `session`; returns the sessions of `dpid` bound to another member until now, with that
   * member (admission checked `member` against the store just now, so those are stale and must go).
   */
  bind(dpid: bigint, member: MemberRef, session: S): { member: MemberRef; sessions: S[] } | undefined {
    const entry = this.#byDpid.get(dpid);
    if (entry && entry.member.clusterId === member.clusterId && entry.member.vmId === member.vmId) {
      entry.sessions.add(session);
      return undefined;
    }
    this.#byDpid.set(dpid, { member, sessions: new Set([session]) });
    return entry && { member: entry.member, sessions: [...entry.sessions] };
  }

  unbind(dpid: bigint, session: S): void {
    const entry = this.#byDpid.get(dpid);
    if (!entry?.sessions.delete(session)) return;
    if (entry.sessions.size === 0) this.#byDpid.delete(dpid);
  }

  /**
   * The sessions of `dpid` bound to another member than `vmId` (a batch for `vmId` must not reach
   * them), with the member they are bound to; undefined when there are none. The cluster is the
   * dpid's (its VNI), so the VM id is what can differ.
   */
  boundElsewhere(dpid: bigint, vmId: string): { member: MemberRef; sessions: S[] } | undefined {
    const entry = this.#byDpid.get(dpid);
    if (entry === undefined || entry.member.vmId === vmId) return undefined;
    this.#byDpid.delete(dpid);
    return { member: entry.member, sessions: [...entry.sessions] };
  }
}
