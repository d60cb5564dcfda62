import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { SLUG_PATTERN } from "../../contract/controller-api/ids.ts";
import type { PKI_ERRORS } from "../../contract/errors/codes/pki.ts";
import { IcsdnError } from "../../contract/errors/index.ts";
import type { TlsMaterial } from "./listener.ts";

/**
 * The controller's PKI for OpenFlow over TLS: a CA, the controller's key and certificate, and one
 * per VM, in one directory (`ca.key ca.crt controller.key controller.crt <vm>.key <vm>.crt`).
 * Made with openssl; private keys are created 0600 before a byte is written and never printed.
 */
export type PkiErrorCode = keyof typeof PKI_ERRORS;

export class PkiError extends IcsdnError<PkiErrorCode> {
  override readonly name = "PkiError";
  constructor(code: PkiErrorCode, message: string) {
    super(code, message);
  }
}

export const CONTROLLER_NAME = "controller";
const RESERVED = new Set(["ca", CONTROLLER_NAME]);
const NAME = new RegExp(SLUG_PATTERN);

export interface IssuedFiles {
  readonly key: string;
  readonly cert: string;
}

export function pkiFiles(dir: string, name: string): IssuedFiles {
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) };
}

export function caCertPath(dir: string): string {
  return join(dir, "ca.crt");
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function openssl(args: string[], input?: string): Promise<string> {
  const res = await execa("openssl", args, { input, reject: false, stripFinalNewline: false });
  if (res.exitCode !== 0) {
    // openssl's stderr names files and reasons, never key material.
    throw new PkiError("OPENSSL_FAILED", `openssl ${args[0]} failed: ${String(res.stderr).trim()}`);
  }
  return String(res.stdout);
}

/** A new EC P-256 key at `path`, mode 0600 from the start. */
async function newKey(path: string): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  await handle.close();
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path]);
  await chmod(path, 0o600);
}

/**
 * Creates the CA and the controller's key and certificate in `dir` (created 0700 if missing).
 * Refuses a directory that already has a CA: re-creating it would orphan every issued certificate.
 */
export async function pkiInit(dir: string, options: { days?: number } = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, "ca.key");
  if ((await exists(caKey)) || (await exists(caCertPath(dir)))) {
    throw new PkiError("PKI_EXISTS", `${dir} already has a CA (ca.key/ca.crt); use another directory`);
  }
  const days = String(options.days ?? 3650);
  await newKey(caKey);
  await openssl([
    "req",
    "-new",
    "-x509",
    "-key",
    caKey,
    "-out",
    caCertPath(dir),
    "-days",
    days,
    "-subj",
    "/CN=icsdn OpenFlow CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const controller = await issue(dir, CONTROLLER_NAME, options.days);
  return [caKey, caCertPath(dir), controller.key, controller.cert];
}

/** A key and certificate for VM `name` (its switch's identity toward the controller). */
export async function pkiIssue(
  dir: string,
  name: string,
  options: { days?: number } = {},
): Promise<IssuedFiles> {
  if (!NAME.test(name) || RESERVED.has(name)) {
    throw new PkiError(
      "BAD_NAME",
      `--name: '${name}' must be a VM name (a-z, 0-9, '-'), not ca or controller`,
    );
  }
  return issue(dir, name, options.days);
}

async function issue(dir: string, name: string, days = 825): Promise<IssuedFiles> {
  const caKey = join(dir, "ca.key");
  if (!(await exists(caKey)) || !(await exists(caCertPath(dir)))) {
    throw new PkiError("PKI_MISSING", `${dir} has no CA: run 'icsdn controller pki init --dir ${dir}' first`);
  }
  const files = pkiFiles(dir, name);
  if ((await exists(files.key)) || (await exists(files.cert))) {
    throw new PkiError("PKI_EXISTS", `${name} already has a key or certificate in ${dir}`);
  }
  await newKey(files.key);
  const ext = join(dir, `.${name}.ext`);
  try {
    await writeFile(
      ext,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyAgreement",
        // Switches are TLS clients, the controller a server; one profile serves both.
        "extendedKeyUsage=serverAuth,clientAuth",
        `subjectAltName=DNS:${name}`,
        "",
      ].join("\n"),
    );
    const csr = await openssl(["req", "-new", "-key", files.key, "-subj", `/CN=${name}`]);
    await openssl(
      [
        "x509",
        "-req",
        "-CA",
        caCertPath(dir),
        "-CAkey",
        caKey,
        "-set_serial",
        `0x${randomBytes(16).toString("hex")}`,
        "-days",
        String(days),
        "-extfile",
        ext,
        "-out",
        files.cert,
      ],
      csr,
    );
  } catch (err) {
    await rm(files.key, { force: true });
    await rm(files.cert, { force: true });
    throw err;
  } finally {
    await rm(ext, { force: true });
  }
  return files;
}

/** The controller's TLS listener material from a PKI directory. */
export async function loadTlsMaterial(dir: string): Promise<TlsMaterial> {
  const files = pkiFiles(dir, CONTROLLER_NAME);
  try {
    const [key, cert, ca] = await Promise.all([
      readFile(files.key),
      readFile(files.cert),
      readFile(caCertPath(dir)),
    ]);
    return { key, cert, ca };
  } catch (err) {
    throw new PkiError(
      "PKI_MISSING",
      `--pki-dir ${dir}: cannot read controller.key, controller.crt and ca.crt (${(err as Error).message})`,
    );
  }
}
