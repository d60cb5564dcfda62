/**
 * The vm-init config: what cloud-init user-data writes to /etc/icsdn/vm-init.json on a real VM
 * and what the lab writes for each lab VM. `VmInitConfigInput` is the file's shape;
 * `parseConfig` (validate.ts) turns it into a `VmInitConfig` with every default filled in and
 * every value in canonical form. A `VmInitConfig` is itself valid input (parsing it again gives
 * the same value), so it can be written back to a file as is.
 */
import type { TunnelType } from "../contract/dataplane/index.ts";

/** Open vSwitch bond modes (ovs-vswitchd.conf.db(5), Port bond_mode). Used with two or more NICs. */
export type BondMode = "active-backup" | "balance-slb" | "balance-tcp";
/** `system`: the kernel datapath (real VMs). `netdev`: OVS's userspace datapath (the lab). */
export type DatapathType = "system" | "netdev";
/** `keep` leaves NIC and vint0 offloads alone; `off` runs `ethtool -K <dev> tx off` on them. */
export type TxChecksumOffload = "keep" | "off";

export const BOND_MODES: readonly BondMode[] = ["active-backup", "balance-slb", "balance-tcp"];
export const DATAPATH_TYPES: readonly DatapathType[] = ["system", "netdev"];
export const TX_CHECKSUM_OFFLOADS: readonly TxChecksumOffload[] = ["keep", "off"];

/** `underlay.address` value that means: move the address (and default route) the first NIC has now. */
export const TAKEOVER = "takeover";

/** What the JSON file holds. Optional fields get the defaults documented on `VmInitConfig`. */
export interface VmInitConfigInput {
  clusterId: string;
  vni: number;
  tunnel: TunnelType;
  datapath?: DatapathType;
  vint0: { address: string; mac?: string };
  underlay: {
    nics: string[];
    address: string;
    gateway?: string;
    mtu?: number;
    bondMode?: BondMode;
  };
  controller?: {
    targets?: string[];
    restUrl?: string;
    vmId?: string;
    tokenFile?: string;
    tls?: { privateKey: string; certificate: string; caCertificate: string };
    connectTimeoutMs?: number;
  };
  offload?: { txChecksum?: TxChecksumOffload };
}

/** A validated config: defaults filled in, addresses and targets in canonical text form. */
export interface VmInitConfig {
  /** Names the cluster; 1-64 of [A-Za-z0-9._-], starting with a letter or digit. */
  clusterId: string;
  /** VXLAN VNI / GRE key of the cluster, 1..16777215. */
  vni: number;
  tunnel: TunnelType;
  /** Default `system`. */
  datapath: DatapathType;
  vint0: {
    /** The member's static cluster address, `a.b.c.d/len`. */
    address: string;
    /**
     * vint0's MAC, lower case `xx:xx:xx:xx:xx:xx`, unicast. Default: the contract's `vint0MacFor`
     * of the address, so a moved member's new instance keeps the MAC its peers' ARP caches hold.
     */
    mac: string;
  };
  underlay: {
    /** The NICs icbond0 holds, first one first: one NIC is a plain port, two or more a bond. */
    nics: string[];
    /**
     * `a.b.c.d/len` (static), or `takeover`: use the IPv4 address and default gateway the first
     * NIC has when vm-init runs (a DHCP-configured cloud VM), and move them to icbond0.
     */
    address: string;
    /** Default gateway, inside the underlay subnet. In takeover mode it overrides the NIC's. */
    gateway?: string;
    /** MTU of the underlay path. Absent: the smallest MTU among the NICs. vint0 gets this minus the tunnel overhead. */
    mtu?: number;
    /** Default `active-backup`. Only used with two or more NICs. */
    bondMode: BondMode;
  };
  controller: {
    /** `tcp:a.b.c.d:port` or `ssl:a.b.c.d:port` (port defaults to 6653). May be empty: no controller. */
    targets: string[];
    /**
     * The controller's REST base URL (http/https). With `vmId`, apply reports its linking time
     * there (POST /v1/linking) once icbr0 is connected. Both or neither.
     */
    restUrl?: string;
    /** This VM's member id in the cluster, as the controller knows it (a DNS label). */
    vmId?: string;
    /** File holding the controller's bearer token (the controller's default is to require one). */
    tokenFile?: string;
    /**
     * For `ssl:` targets (required with them): this VM's key and certificate (`icsdn controller pki
     * issue`) and the CA that signed the controller's, absolute paths. OVS's SSL table gets them.
     */
    tls?: { privateKey: string; certificate: string; caCertificate: string };
    /** How long apply waits for icbr0 to connect before reporting controllerConnected:false. Default 3000. */
    connectTimeoutMs: number;
  };
  offload: {
    /** Default `keep`: measured not to matter inside the VM (see offload.ts for why). */
    txChecksum: TxChecksumOffload;
  };
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
export const DEFAULT_OPENFLOW_PORT = 6653;
