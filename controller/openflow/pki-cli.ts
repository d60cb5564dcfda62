import { parseArgs } from "node:util";
import { UsageError } from "../../contract/cli/index.ts";
import { pkiInit, pkiIssue, pkiRevoke } from "./pki.ts";

export const PKI_USAGE = `usage:
  icsdn controller pki init --dir DIR [--days N]
  icsdn controller pki issue --dir DIR --cluster CLUSTER --name VM [--days N]
  icsdn controller pki revoke --dir DIR --cluster CLUSTER --name VM

  init    creates a CA, the controller's key and certificate, and an empty CRL in DIR
          (ca.*, controller.*, crl.pem)
  issue   creates member CLUSTER/VM's key and certificate (CLUSTER.VM.key, CLUSTER.VM.crt),
          signed by DIR's CA and naming the member: the controller admits its switch only as
          that member's datapath id. On the VM:
          ovs-vsctl set-ssl CLUSTER.VM.key CLUSTER.VM.crt ca.crt, controller target ssl:CONTROLLER:6654
  revoke  revokes the member's certificate: DIR/crl.pem is rewritten (a running controller reloads
          it; the switch is refused from its next connection) and the files move to DIR/revoked/
  Private keys are created mode 0600 and never printed.`;

const VERBS = ["init", "issue", "revoke"];

/** `icsdn controller pki ...`. */
export async function pkiCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === "-h" || verb === "--help") {
    process.stdout.write(`${PKI_USAGE}\n`);
    return 0;
  }
  if (verb === undefined || !VERBS.includes(verb)) throw new UsageError(PKI_USAGE);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      dir: { type: "string" },
      cluster: { type: "string" },
      name: { type: "string" },
      days: { type: "string" },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n${PKI_USAGE}`);
  if (values.dir === undefined) throw new UsageError(`--dir is required\n${PKI_USAGE}`);
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 36500)) {
    throw new UsageError("--days must be a whole number of days (1-36500)");
  }
  if (days !== undefined && verb === "revoke")
    throw new UsageError("--days is for 'pki init' and 'pki issue'");
  const options = days === undefined ? {} : { days };
  if (verb === "init") {
    if (values.name !== undefined || values.cluster !== undefined) {
      throw new UsageError("--cluster and --name are for 'pki issue' and 'pki revoke'");
    }
    const files = await pkiInit(values.dir, options);
    process.stdout.write(`created ${files.join(", ")}\n`);
    return 0;
  }
  if (values.cluster === undefined) throw new UsageError(`--cluster is required\n${PKI_USAGE}`);
  if (values.name === undefined) throw new UsageError(`--name is required\n${PKI_USAGE}`);
  const member = { clusterId: values.cluster, vmId: values.name };
  if (verb === "revoke") {
    const serial = await pkiRevoke(values.dir, member);
    process.stdout.write(
      `revoked ${values.cluster}/${values.name} (serial ${serial}); ${values.dir}/crl.pem updated\n`,
    );
    return 0;
  }
  const files = await pkiIssue(values.dir, member, options);
  process.stdout.write(`created ${files.key}, ${files.cert}\n`);
  return 0;
}
