/**
 * The state vm-init manages, in one shape for what we want (desired.ts) and what is there
 * (ovs-observed.ts, ip-observed.ts), so the planners only compare two values of the same type.
 */

/** Map-valued OVSDB columns (other_config, external_ids, options). */
export type StringMap = Readonly<Record<string, string>>;

export interface OvsInterface {
  name: string;
  /** OVSDB `type`: "" for a system device (a NIC), "internal", "vxlan", "gre". */
  type: string;
  options: StringMap;
  ofportRequest?: number;
  mtuRequest?: number;
  mac?: string;
}

export interface OvsPort {
  name: string;
  interfaces: OvsInterface[];
  bondMode?: string;
  lacp?: string;
  otherConfig: StringMap;
}

export interface OvsController {
  target: string;
  maxBackoff?: number;
}

export interface OvsBridge {
  name: string;
  datapathType: string;
  protocols: string[];
  failMode?: string;
  otherConfig: StringMap;
  externalIds: StringMap;
  controllers: OvsController[];
  /** Every port, the bridge's own local port (same name as the bridge) included. */
  ports: OvsPort[];
}

/** What OVSDB holds, as far as vm-init cares. */
export interface OvsState {
  bridges: OvsBridge[];
  /**
   * The SSL row Open_vSwitch.ssl points at (files OVS reads for ssl: targets). Desired: absent
   * leaves whatever is there; observed: absent when there is none.
   */
  ssl?: OvsSsl;
}

export interface OvsSsl {
  privateKey: string;
  certificate: string;
  caCert: string;
}

/** Row identities, so plans can name rows that have no unique name (controllers, bond members). */
export interface OvsUuids {
  bridge: ReadonlyMap<string, string>;
  port: ReadonlyMap<string, string>;
  interface: ReadonlyMap<string, string>;
  /** `${bridge} ${target}` -> Controller _uuid. */
  controller: ReadonlyMap<string, string>;
}

/** Live facts OVS reports about each interface (not configuration). */
export interface OvsInterfaceStatus {
  name: string;
  ofport?: number;
  mtu?: number;
  macInUse?: string;
  error?: string;
  linkState?: string;
  adminState?: string;
}

export interface OvsControllerStatus {
  bridge: string;
  target: string;
  uuid: string;
  isConnected: boolean;
  state?: string;
}

/** The result of reading OVSDB: the configuration plus identities and status. */
export interface OvsObserved {
  state: OvsState;
  uuids: OvsUuids;
  /** Every Interface row in the database, including other bridges' ones, by name. */
  interfaces: ReadonlyMap<string, OvsInterfaceStatus>;
  /** For every port in the database: the bridge it belongs to. */
  portBridge: ReadonlyMap<string, string>;
  /** For every interface in the database: the port it belongs to. */
  interfacePort: ReadonlyMap<string, string>;
  controllers: OvsControllerStatus[];
  /** Bridge name -> datapath_id column (the dpid in use), when OVS has set it. */
  datapathIds: ReadonlyMap<string, string>;
}

/** One kernel network device without its addresses: what sysfs shows (sysfs.ts). */
export interface LinkFacts {
  name: string;
  up: boolean;
  noarp: boolean;
  mtu: number;
  mac: string;
}

/** One kernel network device, as `ip -j addr` shows it. */
export interface KernelLink extends LinkFacts {
  /** IPv4 addresses of global scope, `a.b.c.d/len`. */
  addresses: string[];
}

export interface DefaultRoute {
  via: string;
  dev: string;
}

export interface KernelObserved {
  links: ReadonlyMap<string, KernelLink>;
  defaultRoutes: DefaultRoute[];
}

/** What one device should look like; absent fields are left as they are. */
export interface KernelLinkWanted {
  name: string;
  up?: boolean;
  noarp?: boolean;
  /** The exact set of global IPv4 addresses. */
  addresses?: string[];
}

export interface KernelDesired {
  links: KernelLinkWanted[];
  /** Default routes on these devices that are not `defaultRoute` are removed. */
  routeDevs: string[];
  defaultRoute?: DefaultRoute;
}
