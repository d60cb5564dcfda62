import { parseArgs } from "node:util";
import { UsageError } from "../../contract/cli/index.ts";
import { pkiInit, pkiIssue } from "./pki.ts";

export const PKI_USAGE = `usage:
  icsdn controller pki init --dir DIR [--days N]
  icsdn controller pki issue --dir DIR --name VM [--days N]

  init   creates a CA and the controller's key and certificate in DIR (ca.*, controller.*)
  issue  creates VM's key and certificate (VM.key, VM.crt), signed by DIR's CA; on the VM:
         ovs-vsctl set-ssl VM.key VM.crt ca.crt, controller target ssl:CONTROLLER:6654
  Private keys are created mode 0600 and never printed.`;

/** `icsdn controller pki ...`. */
export async function pkiCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === "-h" || verb === "--help") {
    process.stdout.write(`${PKI_USAGE}\n`);
    return 0;
  }
  if (verb !== "init" && verb !== "issue") throw new UsageError(PKI_USAGE);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { dir: { type: "string" }, name: { type: "string" }, days: { type: "string" } },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n${PKI_USAGE}`);
  if (values.dir === undefined) throw new UsageError(`--dir is required\n${PKI_USAGE}`);
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 36500)) {
    throw new UsageError("--days must be a whole number of days (1-36500)");
  }
  const options = days === undefined ? {} : { days };
  if (verb === "init") {
    if (values.name !== undefined) throw new UsageError("--name is for 'pki issue'");
    const files = await pkiInit(values.dir, options);
    process.stdout.write(`created ${files.join(", ")}\n`);
    return 0;
  }
  if (values.name === undefined) throw new UsageError(`--name is required\n${PKI_USAGE}`);
  const files = await pkiIssue(values.dir, values.name, options);
  process.stdout.write(`created ${files.key}, ${files.cert}\n`);
  return 0;
}
