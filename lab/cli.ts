/** `icsdn lab ...`: the mininet-based multi-cloud lab. */
import type { ParseArgsOptionsConfig } from "node:util";
import { intFlag, isHelp, parseFlags, type Subcommand, UsageError } from "../contract/cli/index.ts";
import { TUNNEL_TYPES, type TunnelType } from "../contract/dataplane/index.ts";
import {
  down,
  execInteractive,
  installFlows,
  move,
  release,
  type StatusView,
  setNic,
  status,
  up,
} from "./lab.ts";
import { controllerTarget, HOST_ADDRESS, LAB_NAME_RE } from "./plan.ts";
import type { LabOptions } from "./state.ts";

const USAGE = `usage: icsdn lab <command> [--name NAME] ...

  up [--clouds 2] [--vms 1] [--tunnel vxlan|gre] [--wan-mbit N] [--nics 1|2]
     [--controller tcp:IP:PORT|host[:PORT]]... [--vni 42] [--cluster lab] [--json]
     [--controller-rest PORT --token-file FILE]
                         build the lab (clouds a, b...; --vms VMs per cloud: vm1, vm2, ...) and return
                         once every VM is configured; it keeps running until 'lab down'. With
                         --controller-rest (the controller's REST port on this machine) and its
                         --token-file, each VM's vm-init reports its linking time there
  status [--json]        clouds, VMs, fixed and floating IPs, vint0 addresses, dpids
  exec NODE [--timeout S] -- CMD...
                         run CMD in a VM (vm1, or vm1@b for its instance in cloud b) or a router
                         (router-a); ip, ovs-vsctl, ovs-ofctl and ovs-appctl reach the VM's own OVS
  move VM --to CLOUD [--keep-source]
                         recreate VM in CLOUD (new fixed and floating IP, same vint0); with
                         --keep-source the old instance runs on until 'lab release VM'
  release VM             remove VM's source instance
  nic VM NIC up|down     plug / unplug a VM NIC's cable (e.g. 'nic vm1 eth0 down')
  flows                  install static full-mesh tunnel flows between the VMs (no controller)
  down                   remove everything the lab made (also after its daemon was killed)
  demo [--tunnel T]      controller + two clouds of two VMs, traffic, a move under a probe stream, figures, down

NAME defaults to 'lab' (${LAB_NAME_RE}). A controller on this machine is reached from the VMs at
${HOST_ADDRESS} ('--controller host' = tcp:${HOST_ADDRESS}:6653), once the lab is up.`;

const lab: Subcommand = {
  summary: "mininet lab: emulated clouds with lab VMs (up, status, exec, move, release, down)",
  run: async (argv) => {
    const [cmd, ...rest] = argv;
    switch (cmd) {
      case "up":
        return cmdUp(rest);
      case "status":
        return cmdStatus(rest);
      case "exec":
        return cmdExec(rest);
      case "move":
        return cmdMove(rest);
      case "release":
        return cmdRelease(rest);
      case "nic":
        return cmdNic(rest);
      case "flows":
        return cmdFlows(rest);
      case "down":
        return cmdDown(rest);
      case "demo":
        return cmdDemo(rest);
      default:
        if (cmd === undefined || isHelp(cmd)) {
          process.stdout.write(`${USAGE}\n`);
          return cmd === undefined ? 2 : 0;
        }
        throw new UsageError(`lab: unknown command '${cmd}'\n${USAGE}`);
    }
  },
};
export default lab;

const nameOption = { name: { type: "string", default: "lab" } } as const;

function labName(value: string): string {
  if (!LAB_NAME_RE.test(value)) throw new UsageError(`--name '${value}' must match ${LAB_NAME_RE}`);
  return value;
}

function parse<T extends ParseArgsOptionsConfig>(argv: string[], options: T, maxPositionals = 0) {
  return parseFlags(argv, options, { usage: USAGE, maxPositionals });
}

const log = (line: string): void => {
  process.stderr.write(`[lab] ${line}\n`);
};

async function cmdUp(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...nameOption,
    clouds: { type: "string", default: "2" },
    vms: { type: "string", default: "1" },
    tunnel: { type: "string", default: "vxlan" },
    "wan-mbit": { type: "string" },
    nics: { type: "string", default: "1" },
    controller: { type: "string", multiple: true, default: [] },
    vni: { type: "string", default: "42" },
    cluster: { type: "string", default: "lab" },
    "controller-rest": { type: "string" },
    "token-file": { type: "string" },
    json: { type: "boolean", default: false },
  });
  if (!TUNNEL_TYPES.includes(values.tunnel as TunnelType))
    throw new UsageError(`--tunnel must be vxlan or gre, not '${values.tunnel}'`);
  const wan = values["wan-mbit"];
  const wanMbit = wan === undefined ? null : Number(wan);
  if (wanMbit !== null && !(wanMbit > 0 && wanMbit <= 10_000))
    throw new UsageError(`--wan-mbit must be in (0, 10000], not '${wan}'`);
  if (!/^[\w.-]{1,64}$/.test(values.cluster))
    throw new UsageError(`--cluster '${values.cluster}': 1-64 letters, digits, . _ -`);
  let controllers: string[];
  try {
    controllers = values.controller.map(controllerTarget);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const restPort = values["controller-rest"];
  const tokenFile = values["token-file"];
  if ((restPort === undefined) !== (tokenFile === undefined))
    throw new UsageError("--controller-rest and --token-file go together");
  if (tokenFile !== undefined && !tokenFile.startsWith("/"))
    throw new UsageError(`--token-file '${tokenFile}' must be an absolute path (vm-init reads it)`);
  const options: LabOptions = {
    clouds: intFlag("clouds", values.clouds, 1, 4),
    vmsPerCloud: intFlag("vms", values.vms, 0, 15),
    tunnel: values.tunnel as TunnelType,
    wanMbit,
    nics: intFlag("nics", values.nics, 1, 2) as 1 | 2,
    controllers,
    vni: intFlag("vni", values.vni, 1, 0xffffff),
    clusterId: values.cluster,
    ...(restPort !== undefined &&
      tokenFile !== undefined && {
        controllerRest: {
          url: `http://${HOST_ADDRESS}:${intFlag("controller-rest", restPort, 1, 65535)}`,
          tokenFile,
        },
      }),
  };
  const name = labName(values.name);
  await up(name, options, log);
  const view = status(name);
  process.stdout.write(values.json ? `${JSON.stringify(view, null, 2)}\n` : statusText(view));
  return 0;
}

async function cmdStatus(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...nameOption, json: { type: "boolean", default: false } });
  const view = status(labName(values.name));
  process.stdout.write(values.json ? `${JSON.stringify(view, null, 2)}\n` : statusText(view));
  return 0;
}

function statusText(v: StatusView): string {
  const lines = [
    `lab ${v.name}: ${v.phase}, ${v.tunnel} VNI ${v.vni}, daemon ${v.daemon.pid ?? "-"}${v.daemon.alive ? "" : " (gone)"}`,
    `machine (controller side): ${v.hostAddress} on ${v.mgmtNetwork}; controllers: ${v.controllers.join(" ") || "none"}`,
  ];
  for (const c of v.clouds) {
    lines.push(
      `cloud ${c.name}: provider ${c.provider} (router ${c.router.providerIp}), floating ${c.floatingRange}, ` +
        `WAN ${c.router.wan.map((w) => `${w.intf} ${w.ip}`).join(", ") || "-"}`,
    );
  }
  for (const w of v.wan) lines.push(`wan ${w.a}-${w.b}: ${w.network}${w.mbit ? `, ${w.mbit} Mbit/s` : ""}`);
  for (const vm of v.vms) {
    for (const i of vm.instances) {
      lines.push(
        `${vm.name}@${i.cloud}${i.role === "source" ? " (source)" : ""}: vint0 ${vm.vint0.ip}/${vm.vint0.prefix}` +
          ` fixed ${i.fixedIp} floating ${i.floatingIp} dpid ${i.dpid ?? "-"} netns ${i.netns}${i.alive ? "" : " (gone)"}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

async function cmdExec(argv: string[]): Promise<number> {
  const sep = argv.indexOf("--");
  if (sep < 0) throw new UsageError(`lab exec: put '--' before the command\n${USAGE}`);
  const { values, positionals } = parse(
    argv.slice(0, sep),
    { ...nameOption, timeout: { type: "string" } },
    1,
  );
  const node = positionals[0];
  const cmd = argv.slice(sep + 1);
  if (node === undefined || cmd.length === 0) throw new UsageError(`lab exec NODE -- CMD...\n${USAGE}`);
  const timeoutMs =
    values.timeout === undefined ? undefined : intFlag("timeout", values.timeout, 1, 86_400) * 1000;
  return execInteractive(labName(values.name), node, cmd, timeoutMs);
}

async function cmdMove(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...nameOption, to: { type: "string" }, "keep-source": { type: "boolean", default: false } },
    1,
  );
  const vm = positionals[0];
  if (vm === undefined || values.to === undefined) throw new UsageError(`lab move VM --to CLOUD\n${USAGE}`);
  const res = await move(labName(values.name), vm, values.to, values["keep-source"], log);
  process.stdout.write(
    `${res.vm}: ${res.from} -> ${res.to}, fixed ${res.instance.fixedIp}, floating ${res.instance.floatingIp}, dpid ${res.instance.dpid ?? "-"}\n`,
  );
  return 0;
}

async function cmdRelease(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, nameOption, 1);
  const vm = positionals[0];
  if (vm === undefined) throw new UsageError(`lab release VM\n${USAGE}`);
  await release(labName(values.name), vm, log);
  return 0;
}

async function cmdNic(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, nameOption, 3);
  const [vm, nic, updown] = positionals;
  if (vm === undefined || nic === undefined || (updown !== "up" && updown !== "down")) {
    throw new UsageError(`lab nic VM NIC up|down\n${USAGE}`);
  }
  const port = await setNic(labName(values.name), vm, nic, updown);
  log(`${vm} ${nic}: cable ${updown === "up" ? "plugged" : "unplugged"} (${port} ${updown})`);
  return 0;
}

async function cmdFlows(argv: string[]): Promise<number> {
  const { values } = parse(argv, nameOption);
  const count = await installFlows(labName(values.name), log);
  log(`${count} flows installed`);
  return 0;
}

async function cmdDown(argv: string[]): Promise<number> {
  const { values } = parse(argv, nameOption);
  await down(labName(values.name), log);
  return 0;
}

async function cmdDemo(argv: string[]): Promise<number> {
  const { values } = parse(argv, { tunnel: { type: "string", default: "vxlan" } });
  if (!TUNNEL_TYPES.includes(values.tunnel as TunnelType))
    throw new UsageError(`--tunnel must be vxlan or gre, not '${values.tunnel}'`);
  const { runDemo } = await import("./demo.ts");
  return runDemo(values.tunnel as TunnelType);
}
