import { datapathIdFor, ENC0_PORT, formatDpid, VINT0_PORT } from "../contract/dataplane/index.ts";
import type { VmInitConfig } from "./config.ts";
import type { KernelDesired, OvsBridge, OvsPort, OvsState } from "./model.ts";
import { vint0Mtu } from "./mtu.ts";
import {
  BOND_BRIDGE,
  BOND_PORT,
  CLUSTER_BRIDGE,
  CONTROLLER_MAX_BACKOFF_MS,
  compareNames,
  ENC,
  OWNER_KEY,
  VINT,
} from "./names.ts";

/** What the devices told us that the config leaves open: all that planning OVS needs (preflight.ts). */
export interface MachineFacts {
  mtu: number;
  /** MAC of the first NIC: icbond0 takes it on the kernel datapath. */
  firstNicMac: string;
}

/** ... and the underlay address, which may come from the first NIC (takeover). */
export interface UnderlayFacts extends MachineFacts {
  /** The underlay address for icbond0, `a.b.c.d/len`. */
  address: string;
  gateway?: string;
}

/** DESIGN.md's layering as OVSDB content: bridge icbond0 over the NICs, bridge icbr0 with enc0 and vint0. */
export function desiredOvs(config: VmInitConfig, facts: MachineFacts): OvsState {
  const owner = { [OWNER_KEY]: config.clusterId };
  const nics = config.underlay.nics;
  const nicPort: OvsPort =
    nics.length === 1
      ? { name: nics[0]!, interfaces: [nicInterface(nics[0]!)], otherConfig: {} }
      : bondPort(config);
  const bond: OvsBridge = {
    name: BOND_BRIDGE,
    datapathType: config.datapath,
    protocols: [],
    // Clouds drop frames whose source MAC is not the NIC's (OpenStack port security), and OVS
    // would not pick the NIC's MAC itself when it is locally administered (fa:16:3e:...). Only on
    // the kernel datapath: with netdev the kernel still receives the NIC's frames too, and a
    // shared MAC would hand every frame to the stack twice (once via the NIC, once via icbond0).
    otherConfig: config.datapath === "system" ? { hwaddr: facts.firstNicMac } : {},
    externalIds: owner,
    controllers: [],
    ports: sortPorts([
      {
        name: BOND_BRIDGE,
        interfaces: [{ name: BOND_BRIDGE, type: "internal", options: {}, mtuRequest: facts.mtu }],
        otherConfig: {},
      },
      nicPort,
    ]),
  };
  const vint = {
    name: VINT,
    type: "internal",
    options: {},
    ofportRequest: VINT0_PORT,
    mtuRequest: vint0Mtu(facts.mtu, config.tunnel),
    mac: config.vint0.mac,
  };
  const cluster: OvsBridge = {
    name: CLUSTER_BRIDGE,
    datapathType: config.datapath,
    protocols: ["OpenFlow13"],
    failMode: "secure",
    otherConfig: {
      "datapath-id": formatDpid(datapathIdFor(config.vni, config.vint0.address)),
      // The controller is reached over the underlay, never through icbr0: no hidden in-band flows.
      "disable-in-band": "true",
    },
    externalIds: owner,
    controllers: [...config.controller.targets]
      .sort()
      .map((target) => ({ target, maxBackoff: CONTROLLER_MAX_BACKOFF_MS })),
    ports: sortPorts([
      {
        name: CLUSTER_BRIDGE,
        interfaces: [{ name: CLUSTER_BRIDGE, type: "internal", options: {} }],
        otherConfig: {},
      },
      {
        name: ENC,
        interfaces: [
          {
            name: ENC,
            type: config.tunnel,
            // The peer's endpoint and the VNI come from each flow (set_field:...->tun_dst/tun_id).
            options: { key: "flow", remote_ip: "flow" },
            ofportRequest: ENC0_PORT,
          },
        ],
        otherConfig: {},
      },
      { name: VINT, interfaces: [vint], otherConfig: {} },
    ]),
  };
  const tls = config.controller.tls;
  if (!tls) return { bridges: [bond, cluster] };
  return {
    bridges: [bond, cluster],
    ssl: { privateKey: tls.privateKey, certificate: tls.certificate, caCert: tls.caCertificate },
  };
}

function nicInterface(name: string) {
  return { name, type: "", options: {} };
}

function bondPort(config: VmInitConfig): OvsPort {
  const port: OvsPort = {
    name: BOND_PORT,
    interfaces: config.underlay.nics.map(nicInterface).sort((a, b) => compareNames(a.name, b.name)),
    bondMode: config.underlay.bondMode,
    otherConfig: {},
  };
  if (config.underlay.bondMode === "balance-tcp") {
    // OVS balances by L4 hash only with LACP negotiated; clouds have no LACP partner, so fall back
    // to active-backup instead of dropping everything.
    port.lacp = "active";
    port.otherConfig = { "lacp-fallback-ab": "true" };
  }
  return port;
}

function sortPorts(ports: OvsPort[]): OvsPort[] {
  return ports.sort((a, b) => compareNames(a.name, b.name));
}

/**
 * The kernel side: the underlay address (and default route) on icbond0, the cluster address on
 * vint0, both up; the NICs up, without IPv4 addresses (frames on them belong to OVS now) and with
 * ARP off, so the kernel does not also answer ARP for icbond0's address with the NIC's MAC (it
 * would on the userspace datapath, and peers would then send tunnel packets to the wrong MAC).
 */
export function desiredKernel(config: VmInitConfig, facts: UnderlayFacts): KernelDesired {
  const nics = config.underlay.nics;
  return {
    links: [
      ...nics.map((name) => ({ name, up: true, noarp: true, addresses: [] })),
      { name: BOND_BRIDGE, up: true, addresses: [facts.address] },
      { name: VINT, up: true, addresses: [config.vint0.address] },
    ],
    routeDevs: [BOND_BRIDGE, ...nics],
    ...(facts.gateway === undefined ? {} : { defaultRoute: { via: facts.gateway, dev: BOND_BRIDGE } }),
  };
}
