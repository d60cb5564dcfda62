/**
 * `icsdn demo`: the paper's experiment (demo/paper-experiment.ts) by default; `--namespace-lab`
 * runs the earlier demo of the namespace lab alone (lab/demo.ts: a VM moved by `lab move`).
 */
import { intFlag, isHelp, parseFlags, type Subcommand, UsageError } from "../contract/cli/index.ts";
import { TUNNEL_TYPES, type TunnelType } from "../contract/dataplane/index.ts";

const USAGE = `usage: icsdn demo [--vms N] [--rate PPS]
       icsdn demo --namespace-lab [--tunnel vxlan|gre]

  (default)        the lab's two OpenStack clouds, N VMs (default 4) booted through Nova in cloud a
                   with vm-init, data on their disks, the mediation service; one VM moved alone,
                   then ONE request moving the cluster to cloud b under a probe stream between all
                   members (PPS per pair, default 100); figures next to the paper's; all torn down
  --namespace-lab  the controller and a namespace lab of 4 VMs; one VM moved by 'lab move' under a
                   1,000 packets/s stream; linking, update and downtime next to the paper's`;

const demo: Subcommand = {
  summary: "the paper's experiment: a VM cluster moved between the lab's OpenStack clouds",
  async run(argv: string[]): Promise<number> {
    if (isHelp(argv[0])) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const { values } = parseFlags(
      argv,
      {
        vms: { type: "string", default: "4" },
        rate: { type: "string", default: "100" },
        "namespace-lab": { type: "boolean", default: false },
        tunnel: { type: "string", default: "vxlan" },
      },
      { usage: USAGE },
    );
    if (values["namespace-lab"]) {
      if (!TUNNEL_TYPES.includes(values.tunnel as TunnelType))
        throw new UsageError(`--tunnel must be vxlan or gre, not '${values.tunnel}'`);
      const { runDemo } = await import("../lab/demo.ts");
      return runDemo(values.tunnel as TunnelType);
    }
    const { runPaperExperiment } = await import("./paper-experiment.ts");
    return runPaperExperiment({
      vms: intFlag("vms", values.vms, 2, 8),
      rate: intFlag("rate", values.rate, 10, 1000),
    });
  },
};
export default demo;
