/** A member as the controller knows it. */
export interface ControllerMember {
  readonly clusterId: string;
  readonly vmId: string;
  readonly vint0: string;
  readonly endpoint: string | null;
  readonly nextEndpoint: string | null;
}

/** One member of a batch rebind and where it runs now. */
export interface MemberEndpoint {
  readonly vmId: string;
  readonly endpoint: string;
}

/** The member's switch session as the controller sees it. */
export interface SwitchSession {
  readonly connected: boolean;
  readonly remoteAddress: string | null;
  /** How long it has been up (ms), null when it is not. */
  readonly connectedForMs: number | null;
}

/**
 * What the mediation needs from the SDN controller (its REST API). The runner depends on this
 * only; an adapter speaks HTTP.
 */
export interface ControllerPort {
  /** The member in whatever cluster holds it, and its peers; undefined when no cluster does. */
  findMember(
    vmId: string,
  ): Promise<{ member: ControllerMember; peers: readonly ControllerMember[] } | undefined>;
  /** Every member of a cluster; undefined when the controller has no such cluster. */
  clusterMembers(clusterId: string): Promise<readonly ControllerMember[] | undefined>;
  /** PUT .../next-endpoint: peers start accepting the new endpoint before the rebind. */
  announce(clusterId: string, vmId: string, endpoint: string): Promise<void>;
  /** DELETE .../next-endpoint. */
  withdraw(clusterId: string, vmId: string): Promise<void>;
  /** POST .../rebind: make-before-break switch of the member's endpoint. */
  rebind(clusterId: string, vmId: string, endpoint: string): Promise<void>;
  /**
   * POST /v1/clusters/{id}/rebinds: every listed member in one make-before-break round, all or
   * nothing (an atomic commit's rebinds; members already there are unchanged). Optional: without
   * it, a commit's members rebind one call each (a stand-in controller, the bench's single mode).
   */
  rebindBatch?(clusterId: string, rebinds: readonly MemberEndpoint[]): Promise<void>;
  switchSession(clusterId: string, vmId: string): Promise<SwitchSession | undefined>;
  ready(): Promise<boolean>;
}
