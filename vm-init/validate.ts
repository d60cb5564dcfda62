import { readFile } from "node:fs/promises";
import { SLUG_PATTERN } from "../contract/controller-api/ids.ts";
import {
  formatCidr,
  type Ipv4Cidr,
  inSubnet,
  isNetworkOrBroadcast,
  parseIpv4,
  parseIpv4Cidr,
  subnetsOverlap,
  TUNNEL_TYPES,
  type TunnelType,
  VNI_MAX,
  vint0MacFor,
} from "../contract/dataplane/index.ts";
import {
  BOND_MODES,
  DATAPATH_TYPES,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_OPENFLOW_PORT,
  TAKEOVER,
  TX_CHECKSUM_OFFLOADS,
  type VmInitConfig,
} from "./config.ts";
import { VmInitError } from "./errors.ts";
import { MIN_IPV4_MTU, TUNNEL_OVERHEAD } from "./mtu.ts";
import { RESERVED_NAMES } from "./names.ts";
import { at, Checker } from "./schema.ts";

const CLUSTER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The controller's member ids. */
const VM_ID = new RegExp(SLUG_PATTERN);
/** Linux allows more (dev_valid_name), but these are the names clouds and the lab use, and OVS takes. */
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const TARGET = /^(tcp|ssl):([^:]+)(?::(\d{1,5}))?$/;
const MIN_MTU = 576;
const MAX_MTU = 65535;
const MAX_NICS = 8;
const MAX_TARGETS = 8;

/**
 * Checks a parsed JSON value against the vm-init schema and returns it normalised (defaults,
 * canonical addresses and targets). Throws VmInitError INVALID_CONFIG listing every problem, each
 * named by its field path (`underlay.nics[1]: interface name "x y" is not valid`).
 */
export function parseConfig(input: unknown): VmInitConfig {
  const c = new Checker();
  const root = c.object("", input, [
    "clusterId",
    "vni",
    "tunnel",
    "datapath",
    "vint0",
    "underlay",
    "controller",
    "offload",
  ]);
  if (!root) throw VmInitError.invalidConfig(c.issues);

  const clusterId = c.string("clusterId", root.clusterId);
  if (clusterId !== undefined && !CLUSTER_ID.test(clusterId)) {
    c.fail("clusterId", `"${clusterId}" must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit`);
  }
  const vni = c.integer("vni", root.vni, 1, VNI_MAX);
  const tunnel = c.oneOf("tunnel", root.tunnel, TUNNEL_TYPES);
  const datapath =
    root.datapath === undefined ? "system" : c.oneOf("datapath", root.datapath, DATAPATH_TYPES);
  const vint0 = parseVint0(c, root.vint0);
  const underlay = parseUnderlay(c, root.underlay, tunnel);
  const controller = parseController(c, root.controller);
  const offload = parseOffload(c, root.offload);

  if (vint0 && underlay?.cidr && subnetsOverlap(vint0.cidr, underlay.cidr)) {
    c.fail(
      "vint0.address",
      `${formatCidr(vint0.cidr)} overlaps the underlay subnet ${formatCidr(underlay.cidr)}`,
    );
  }
  if (
    c.issues.length > 0 ||
    clusterId === undefined ||
    vni === undefined ||
    tunnel === undefined ||
    datapath === undefined ||
    !vint0 ||
    !underlay ||
    !controller ||
    !offload
  ) {
    throw VmInitError.invalidConfig(c.issues);
  }
  return {
    clusterId,
    vni,
    tunnel,
    datapath,
    vint0: vint0.value,
    underlay: underlay.value,
    controller,
    offload,
  };
}

/** Reads and validates a config file. */
export async function loadConfigFile(path: string): Promise<VmInitConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new VmInitError("CONFIG_UNREADABLE", `cannot read config file ${path}: ${errText(err)}`, {
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new VmInitError("CONFIG_UNREADABLE", `config file ${path} is not valid JSON: ${errText(err)}`, {
      cause: err,
    });
  }
  return parseConfig(json);
}

function parseVint0(c: Checker, v: unknown): { value: VmInitConfig["vint0"]; cidr: Ipv4Cidr } | undefined {
  const o = c.object("vint0", v, ["address", "mac"]);
  if (!o) return undefined;
  const cidr = hostCidr(c, "vint0.address", o.address);
  let mac: string | undefined;
  if (o.mac !== undefined) {
    const s = c.string("vint0.mac", o.mac);
    if (s !== undefined) {
      const lower = s.toLowerCase();
      if (!MAC.test(lower)) c.fail("vint0.mac", `"${s}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
      else if ((Number.parseInt(lower.slice(0, 2), 16) & 1) === 1)
        c.fail("vint0.mac", `"${s}" is a multicast address`);
      else if (lower === "00:00:00:00:00:00") c.fail("vint0.mac", "must not be all zeros");
      else mac = lower;
    }
  }
  if (!cidr) return undefined;
  const address = formatCidr(cidr);
  // Absent: the contract's MAC for this vint0, so every instance of the member has the same one.
  return { value: { address, mac: mac ?? vint0MacFor(address) }, cidr };
}

function parseUnderlay(
  c: Checker,
  v: unknown,
  tunnel: TunnelType | undefined,
): { value: VmInitConfig["underlay"]; cidr: Ipv4Cidr | undefined } | undefined {
  const o = c.object("underlay", v, ["nics", "address", "gateway", "mtu", "bondMode"]);
  if (!o) return undefined;
  const nics: string[] = [];
  const list = c.array("underlay.nics", o.nics, 1, MAX_NICS);
  list?.forEach((item, i) => {
    const path = at("underlay.nics", i);
    const name = c.string(path, item);
    if (name === undefined) return;
    if (!IFNAME.test(name) || name === "." || name === "..") {
      c.fail(path, `interface name "${name}" is not valid`);
    } else if (RESERVED_NAMES.includes(name)) {
      c.fail(path, `"${name}" is a name vm-init itself creates`);
    } else if (nics.includes(name)) {
      c.fail(path, `"${name}" is listed twice`);
    } else {
      nics.push(name);
    }
  });

  let address: string | undefined;
  let cidr: Ipv4Cidr | undefined;
  if (o.address === TAKEOVER) address = TAKEOVER;
  else {
    cidr = hostCidr(c, "underlay.address", o.address, `or "${TAKEOVER}"`);
    if (cidr) address = formatCidr(cidr);
  }

  let gateway: string | undefined;
  if (o.gateway !== undefined) {
    const s = c.string("underlay.gateway", o.gateway);
    if (s !== undefined) {
      gateway = parseIpv4(s);
      if (gateway === undefined) c.fail("underlay.gateway", `"${s}" is not an IPv4 address`);
      else if (cidr && !inSubnet(gateway, cidr))
        c.fail("underlay.gateway", `${gateway} is outside the underlay subnet ${formatCidr(cidr)}`);
      else if (cidr && gateway === cidr.address)
        c.fail("underlay.gateway", `${gateway} is the underlay address itself`);
    }
  }

  let mtu: number | undefined;
  if (o.mtu !== undefined) {
    mtu = c.integer("underlay.mtu", o.mtu, MIN_MTU, MAX_MTU);
    if (mtu !== undefined && tunnel && mtu - TUNNEL_OVERHEAD[tunnel] < MIN_IPV4_MTU) {
      c.fail("underlay.mtu", `${mtu} leaves vint0 below IPv4's minimum MTU ${MIN_IPV4_MTU}`);
    }
  }
  const bondMode =
    o.bondMode === undefined ? "active-backup" : c.oneOf("underlay.bondMode", o.bondMode, BOND_MODES);

  if (list === undefined || nics.length !== list.length || address === undefined || bondMode === undefined) {
    return undefined;
  }
  const value: VmInitConfig["underlay"] = { nics, address, bondMode };
  if (gateway !== undefined) value.gateway = gateway;
  if (mtu !== undefined) value.mtu = mtu;
  return { value, cidr };
}

function parseController(c: Checker, v: unknown): VmInitConfig["controller"] | undefined {
  if (v === undefined) return { targets: [], connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS };
  const o = c.object("controller", v, ["targets", "restUrl", "vmId", "tokenFile", "tls", "connectTimeoutMs"]);
  if (!o) return undefined;
  const targets: string[] = [];
  const list = o.targets === undefined ? [] : c.array("controller.targets", o.targets, 0, MAX_TARGETS);
  let ok = list !== undefined;
  list?.forEach((item, i) => {
    const path = at("controller.targets", i);
    const s = c.string(path, item);
    const t = s === undefined ? undefined : parseTarget(s);
    if (s !== undefined && t === undefined) {
      c.fail(path, `"${s}" is not a controller target (tcp:a.b.c.d:port or ssl:a.b.c.d:port)`);
    } else if (t !== undefined && targets.includes(t)) {
      c.fail(path, `"${s}" is listed twice`);
    } else if (t !== undefined) {
      targets.push(t);
      return;
    }
    ok = false;
  });
  let restUrl: string | undefined;
  if (o.restUrl !== undefined) {
    const s = c.string("controller.restUrl", o.restUrl);
    if (s !== undefined) {
      const url = URL.canParse(s) ? new URL(s) : undefined;
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
        c.fail("controller.restUrl", `"${s}" is not an http(s) URL`);
        ok = false;
      } else restUrl = url.href;
    } else ok = false;
  }
  let vmId: string | undefined;
  if (o.vmId !== undefined) {
    vmId = c.string("controller.vmId", o.vmId);
    if (vmId !== undefined && !VM_ID.test(vmId)) {
      c.fail(
        "controller.vmId",
        `"${vmId}" must be a DNS label: 1-63 of [a-z0-9-], not starting or ending with -`,
      );
      vmId = undefined;
    }
    if (vmId === undefined) ok = false;
  }
  if ((restUrl === undefined) !== (vmId === undefined) && ok) {
    c.fail("controller.restUrl", "restUrl and vmId go together (the linking report needs both)");
    ok = false;
  }
  let tokenFile: string | undefined;
  if (o.tokenFile !== undefined) {
    tokenFile = c.string("controller.tokenFile", o.tokenFile);
    if (tokenFile !== undefined && !tokenFile.startsWith("/")) {
      c.fail("controller.tokenFile", `"${tokenFile}" must be an absolute path`);
      tokenFile = undefined;
    }
    if (tokenFile === undefined) ok = false;
  }
  let tls: VmInitConfig["controller"]["tls"];
  if (o.tls !== undefined) {
    const t = c.object("controller.tls", o.tls, ["privateKey", "certificate", "caCertificate"]);
    const file = (key: "privateKey" | "certificate" | "caCertificate"): string | undefined => {
      const path = `controller.tls.${key}`;
      if (t?.[key] === undefined) {
        c.fail(path, "is required");
        return undefined;
      }
      const s = c.string(path, t[key]);
      if (s !== undefined && !s.startsWith("/")) {
        c.fail(path, `"${s}" must be an absolute path`);
        return undefined;
      }
      return s;
    };
    const privateKey = file("privateKey");
    const certificate = file("certificate");
    const caCertificate = file("caCertificate");
    if (t && privateKey && certificate && caCertificate) tls = { privateKey, certificate, caCertificate };
    else ok = false;
  } else if (ok && targets.some((t) => t.startsWith("ssl:"))) {
    c.fail("controller.tls", "ssl: targets need controller.tls (privateKey, certificate, caCertificate)");
    ok = false;
  }
  const connectTimeoutMs =
    o.connectTimeoutMs === undefined
      ? DEFAULT_CONNECT_TIMEOUT_MS
      : c.integer("controller.connectTimeoutMs", o.connectTimeoutMs, 0, 600_000);
  if (!ok || connectTimeoutMs === undefined) return undefined;
  return {
    targets,
    connectTimeoutMs,
    ...(tls !== undefined && { tls }),
    ...(restUrl !== undefined && { restUrl }),
    ...(vmId !== undefined && { vmId }),
    ...(tokenFile !== undefined && { tokenFile }),
  };
}

function parseOffload(c: Checker, v: unknown): VmInitConfig["offload"] | undefined {
  if (v === undefined) return { txChecksum: "keep" };
  const o = c.object("offload", v, ["txChecksum"]);
  if (!o) return undefined;
  const txChecksum =
    o.txChecksum === undefined ? "keep" : c.oneOf("offload.txChecksum", o.txChecksum, TX_CHECKSUM_OFFLOADS);
  return txChecksum === undefined ? undefined : { txChecksum };
}

/** `tcp:1.2.3.4[:port]` -> `tcp:1.2.3.4:port`. Only IPv4 literals: a VM must not need DNS to link. */
export function parseTarget(text: string): string | undefined {
  const m = TARGET.exec(text);
  if (!m) return undefined;
  const host = parseIpv4(m[2]!);
  const port = m[3] === undefined ? DEFAULT_OPENFLOW_PORT : Number(m[3]);
  if (host === undefined || port < 1 || port > 65535) return undefined;
  return `${m[1]}:${host}:${port}`;
}

/** A host address with a prefix, usable on an interface (not the subnet's network/broadcast). */
function hostCidr(c: Checker, path: string, v: unknown, alternative = ""): Ipv4Cidr | undefined {
  const s = c.string(path, v);
  if (s === undefined) return undefined;
  const cidr = parseIpv4Cidr(s);
  const expected = `IPv4 address with prefix, e.g. 198.18.0.1/24${alternative ? ` ${alternative}` : ""}`;
  if (!cidr) return c.fail(path, `"${s}" is not an ${expected}`);
  if (cidr.prefixLength < 1 || cidr.prefixLength > 31)
    return c.fail(path, `prefix /${cidr.prefixLength} is out of range 1..31`);
  if (isNetworkOrBroadcast(cidr)) return c.fail(path, `${s} is the subnet's network or broadcast address`);
  return cidr;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
