import { randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { SLUG_PATTERN } from "../../contract/controller-api/ids.ts";
import type { PKI_ERRORS } from "../../contract/errors/codes/pki.ts";
import { IcsdnError } from "../../contract/errors/index.ts";
import type { TlsMaterial } from "./listener.ts";
import { type MemberRef, memberName, memberUri } from "./switch-identity.ts";

/**
 * The controller's PKI for OpenFlow over TLS, in one directory: a CA (`ca.key ca.crt`), the
 * controller's key and certificate (`controller.*`), one per member (`CLUSTER.VM.key/.crt`, the
 * member in the subject and as URI SAN `urn:icsdn:member:CLUSTER/VM`), and the revocation list
 * `crl.pem` the listener reloads when it changes (openssl's CA database for it in `ca-db/`).
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

/** A member's files: `CLUSTER.VM.*` ('.' is in no slug, so no two members share a name). */
function memberFiles(dir: string, member: MemberRef): IssuedFiles {
  return pkiFiles(dir, `${member.clusterId}.${member.vmId}`);
}

function pkiFiles(dir: string, name: string): IssuedFiles {
  return { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) };
}

export function caCertPath(dir: string): string {
  return join(dir, "ca.crt");
}

export function crlPath(dir: string): string {
  return join(dir, "crl.pem");
}

/**
 * The CRL's validity: a listener refuses every certificate once its CRL has expired, so it is
 * long; each revoke writes a new one anyway.
 */
const CRL_DAYS = 3650;

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
  const controller = await issue(dir, pkiFiles(dir, CONTROLLER_NAME), {
    days: options.days,
    subject: `/CN=${CONTROLLER_NAME}`,
    extensions: ["extendedKeyUsage=serverAuth", `subjectAltName=DNS:${CONTROLLER_NAME}`],
  });
  await writeCrl(dir);
  return [caKey, caCertPath(dir), controller.key, controller.cert, crlPath(dir)];
}

function checkMember(member: MemberRef): void {
  if (!NAME.test(member.clusterId)) {
    throw new PkiError("BAD_NAME", `--cluster: '${member.clusterId}' must be a cluster id (a-z, 0-9, '-')`);
  }
  if (!NAME.test(member.vmId) || RESERVED.has(member.vmId)) {
    throw new PkiError(
      "BAD_NAME",
      `--name: '${member.vmId}' must be a VM name (a-z, 0-9, '-'), not ca or controller`,
    );
  }
}

/**
 * A key and certificate for a member's switch: its identity toward the controller, which admits
 * it only as the switch of that member's datapath id. Client use only (no serverAuth): a member's
 * certificate cannot pose as the controller to other switches.
 */
export async function pkiIssue(
  dir: string,
  member: MemberRef,
  options: { days?: number } = {},
): Promise<IssuedFiles> {
  checkMember(member);
  return issue(dir, memberFiles(dir, member), {
    days: options.days ?? 825,
    subject: `/O=icsdn cluster ${member.clusterId}/CN=${member.vmId}`,
    extensions: ["extendedKeyUsage=clientAuth", `subjectAltName=URI:${memberUri(member)}`],
  });
}

async function requireCa(dir: string): Promise<void> {
  if (!(await exists(join(dir, "ca.key"))) || !(await exists(caCertPath(dir)))) {
    throw new PkiError("PKI_MISSING", `${dir} has no CA: run 'icsdn controller pki init --dir ${dir}' first`);
  }
}

async function issue(
  dir: string,
  files: IssuedFiles,
  profile: { days?: number | undefined; subject: string; extensions: string[] },
): Promise<IssuedFiles> {
  await requireCa(dir);
  const caKey = join(dir, "ca.key");
  if ((await exists(files.key)) || (await exists(files.cert))) {
    throw new PkiError("PKI_EXISTS", `${files.cert} or its key already exists`);
  }
  await newKey(files.key);
  const ext = `${files.cert}.ext`;
  try {
    await writeFile(
      ext,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyAgreement",
        ...profile.extensions,
        "",
      ].join("\n"),
    );
    const csr = await openssl(["req", "-new", "-key", files.key, "-subj", profile.subject]);
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
        String(profile.days ?? 825),
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

/** openssl's CA database (`ca-db/`), which only revocation uses: certificates are issued without it. */
async function caConfig(dir: string): Promise<string> {
  const db = join(dir, "ca-db");
  await mkdir(db, { recursive: true, mode: 0o700 });
  const index = join(db, "index.txt");
  if (!(await exists(index))) await writeFile(index, "");
  const crlNumber = join(db, "crlnumber");
  if (!(await exists(crlNumber))) await writeFile(crlNumber, "01\n");
  const config = join(db, "openssl.cnf");
  await writeFile(
    config,
    [
      "[ca]",
      "default_ca = icsdn",
      "[icsdn]",
      `database = ${index}`,
      `crlnumber = ${crlNumber}`,
      `certificate = ${caCertPath(dir)}`,
      `private_key = ${join(dir, "ca.key")}`,
      "default_md = sha256",
      `default_crl_days = ${CRL_DAYS}`,
      "",
    ].join("\n"),
  );
  return config;
}

/** A new `crl.pem` from the CA database, written aside and renamed: a watcher never reads half of it. */
async function writeCrl(dir: string): Promise<void> {
  const config = await caConfig(dir);
  const next = `${crlPath(dir)}.next`;
  try {
    await openssl(["ca", "-config", config, "-gencrl", "-out", next]);
    await rename(next, crlPath(dir));
  } finally {
    await rm(next, { force: true });
  }
}

/**
 * Revokes a member's certificate: it goes into a new `crl.pem` (which a running listener reloads)
 * and its files move to `revoked/` (named by serial), so the member can be issued a new one.
 * Returns the revoked serial (hex).
 */
export async function pkiRevoke(dir: string, member: MemberRef): Promise<string> {
  checkMember(member);
  await requireCa(dir);
  const files = memberFiles(dir, member);
  let serial: string;
  try {
    serial = new X509Certificate(await readFile(files.cert)).serialNumber;
  } catch {
    throw new PkiError("PKI_MISSING", `${memberName(member)} has no certificate in ${dir} (${files.cert})`);
  }
  const config = await caConfig(dir);
  await openssl(["ca", "-config", config, "-revoke", files.cert]);
  await writeCrl(dir);
  const revoked = join(dir, "revoked");
  await mkdir(revoked, { recursive: true, mode: 0o700 });
  await rename(files.cert, join(revoked, `${serial}.crt`));
  await rm(files.key, { force: true });
  return serial;
}

/** Serials as X509Certificate.serialNumber and openssl print them, made comparable. */
export function normalSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, "");
}

/** The serials a CRL (PEM) revokes, normalised; throws PkiError when openssl cannot read it. */
export async function crlSerials(crl: Buffer): Promise<Set<string>> {
  const text = await openssl(["crl", "-noout", "-text"], crl.toString("latin1"));
  return new Set(
    [...text.matchAll(/^\s*Serial Number: ([0-9A-Fa-f]+)\s*$/gm)].map((m) => normalSerial(m[1]!)),
  );
}

/** The controller's TLS listener material from a PKI directory (the CRL when there is one). */
export async function loadTlsMaterial(dir: string): Promise<TlsMaterial> {
  const files = pkiFiles(dir, CONTROLLER_NAME);
  try {
    const [key, cert, ca] = await Promise.all([
      readFile(files.key),
      readFile(files.cert),
      readFile(caCertPath(dir)),
    ]);
    const crl = (await exists(crlPath(dir))) ? await readFile(crlPath(dir)) : undefined;
    return { key, cert, ca, crl, crlFile: crlPath(dir) };
  } catch (err) {
    throw new PkiError(
      "PKI_MISSING",
      `--pki-dir ${dir}: cannot read controller.key, controller.crt and ca.crt (${(err as Error).message})`,
    );
  }
}
