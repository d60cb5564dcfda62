import type { SwitchSession } from "./session.ts";

/**
 * The sessions that finished their handshake, by dpid. A dpid may have several sessions at once:
 * during a move the old and the new instance of a VM run side by side with the same dpid (the old
 * one until the mediation releases it). Sessions are never closed because another one arrived.
 */
export class SessionRegistry {
  readonly #byDpid = new Map<bigint, SwitchSession[]>();

  add(s: SwitchSession): void {
    const dpid = s.dpid;
    if (dpid === undefined) throw new RangeError("SessionRegistry.add: the session has no dpid yet");
    const list = this.#byDpid.get(dpid);
    if (list) list.push(s);
    else this.#byDpid.set(dpid, [s]);
  }

  remove(s: SwitchSession): void {
    const dpid = s.dpid;
    if (dpid === undefined) return;
    const list = this.#byDpid.get(dpid)?.filter((x) => x !== s) ?? [];
    if (list.length > 0) this.#byDpid.set(dpid, list);
    else this.#byDpid.delete(dpid);
  }

  /** The live sessions of `dpid`, oldest first. */
  sessionsOf(dpid: bigint): readonly SwitchSession[] {
    return (this.#byDpid.get(dpid) ?? []).filter((s) => s.isReady);
  }

  all(): SwitchSession[] {
    return [...this.#byDpid.values()].flat();
  }

  /**
   * Which session of `dpid` gets a batch for the member whose endpoint is (or becomes) `endpoint`:
   *
   * 1. the session whose peer address is that endpoint: without NAT between VM and controller,
   *    a VM's switch connects from its own underlay address, so this tells the moved VM's new
   *    instance from its old one (the newest such session, if a reconnect overlaps the old socket);
   * 2. otherwise (behind NAT the controller sees another address, or the endpoint is unknown) the
   *    newest session: a moved VM's new instance connects after the old one, and a reconnecting
   *    switch after its dead socket.
   *
   * Rule 2 means that behind NAT, between a new instance's connection and its rebind, changes go
   * to the new instance and not to the old one; the old one is reconciled if it reconnects.
   */
  pick(dpid: bigint, endpoint: string | null): SwitchSession | undefined {
    // Allocation-free: a rebind of a 1,000-member cluster picks 3,000 times.
    const list = this.#byDpid.get(dpid);
    if (!list) return undefined;
    let atEndpoint: SwitchSession | undefined;
    let newest: SwitchSession | undefined;
    for (const s of list) {
      if (!s.isReady) continue;
      if (!newest || s.connectedAt >= newest.connectedAt) newest = s;
      if (
        endpoint !== null &&
        s.remoteAddress === endpoint &&
        (!atEndpoint || s.connectedAt >= atEndpoint.connectedAt)
      ) {
        atEndpoint = s;
      }
    }
    return atEndpoint ?? newest;
  }
}
