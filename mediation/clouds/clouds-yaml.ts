import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { MediationError } from "../errors.ts";

/** How a cloud authenticates against Keystone v3. */
export type CloudAuth =
  | {
      readonly type: "password";
      readonly authUrl: string;
      readonly username: string;
      readonly password: string;
      readonly userDomain: DomainRef;
      readonly project: { readonly name?: string; readonly id?: string; readonly domain: DomainRef };
    }
  | {
      readonly type: "v3applicationcredential";
      readonly authUrl: string;
      readonly id?: string;
      readonly name?: string;
      readonly secret: string;
      readonly username?: string;
      readonly userDomain: DomainRef;
    };

export type DomainRef = { readonly id: string } | { readonly name: string };

/** One entry of clouds.yaml, resolved: what the driver needs to talk to it. */
export interface CloudConfig {
  readonly name: string;
  readonly auth: CloudAuth;
  readonly region: string | undefined;
  readonly interface: "public" | "internal" | "admin";
  /** Explicit flavor mapping for migrations into this cloud: source flavor name -> ours. */
  readonly flavorMap: Readonly<Record<string, string>>;
  /** Disk formats this cloud's Glance accepts (icsdn extension; default: any). */
  readonly diskFormats: readonly string[] | undefined;
  /** The external network for floating IPs (icsdn extension; default: the first external one). */
  readonly externalNetwork: string | undefined;
  /** `<service type>_endpoint_override` entries, as openstacksdk reads them: service type -> URL. */
  readonly endpointOverrides: Readonly<Record<string, string>>;
}

const EXTENSIONS = ["yaml", "yml", "json"];

/** Where openstacksdk looks, in its order: the env override, the working directory, user, site. */
export function searchPaths(base: "clouds" | "secure", env: NodeJS.ProcessEnv, cwd: string): string[] {
  const override = env[base === "clouds" ? "OS_CLIENT_CONFIG_FILE" : "OS_CLIENT_SECURE_FILE"];
  const dirs = [cwd, join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "openstack"), "/etc/openstack"];
  const paths = dirs.flatMap((d) => EXTENSIONS.map((e) => join(d, `${base}.${e}`)));
  return override ? [override, ...paths] : paths;
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function readFirst(paths: string[]): { path: string; clouds: Tree } | undefined {
  for (const path of paths) {
    if (!existsSync(path)) continue;
    let doc: unknown;
    try {
      doc = parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new MediationError("CLOUD_CONFIG", `${path}: not YAML: ${(err as Error).message}`, {
        field: path,
      });
    }
    const clouds = isTree(doc) ? doc.clouds : undefined;
    if (!isTree(clouds))
      throw new MediationError("CLOUD_CONFIG", `${path}: no 'clouds:' mapping`, { field: path });
    return { path, clouds };
  }
  return undefined;
}

function deepMerge(a: Tree, b: Tree): Tree {
  const out: Tree = { ...a };
  for (const [k, v] of Object.entries(b))
    out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  return out;
}

/** Every cloud of the first clouds file found, with secure.yaml's secrets merged in, as openstacksdk does. */
export function loadCloudsFile(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): {
  path: string;
  clouds: Tree;
} {
  const found = readFirst(searchPaths("clouds", env, cwd));
  if (!found) {
    throw new MediationError(
      "CLOUD_CONFIG",
      `no clouds.yaml (looked in $OS_CLIENT_CONFIG_FILE, ${searchPaths("clouds", {}, cwd).join(", ")})`,
    );
  }
  const secure = readFirst(searchPaths("secure", env, cwd));
  return { path: found.path, clouds: secure ? deepMerge(found.clouds, secure.clouds) : found.clouds };
}

/** Resolves one named cloud (`OS_CLOUD` when no name is given). Throws naming the missing setting. */
export function resolveCloud(
  name: string | undefined,
  file: { path: string; clouds: Tree },
  env: NodeJS.ProcessEnv = process.env,
): CloudConfig {
  const cloudName = name ?? env.OS_CLOUD;
  if (!cloudName)
    throw new MediationError("CLOUD_CONFIG", "no cloud named and OS_CLOUD is not set", { field: "cloud" });
  const entry = file.clouds[cloudName];
  if (!isTree(entry)) {
    throw new MediationError(
      "CLOUD_CONFIG",
      `unknown cloud '${cloudName}' (${file.path} has: ${Object.keys(file.clouds).join(", ")})`,
      { field: "cloud" },
    );
  }
  const where = `${file.path}: clouds.${cloudName}`;
  const auth = isTree(entry.auth) ? entry.auth : {};
  const str = (tree: Tree, key: string): string | undefined => {
    const v = tree[key];
    return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
  };
  const need = (tree: Tree, key: string, path: string): string => {
    const v = str(tree, key);
    if (v === undefined)
      throw new MediationError("CLOUD_CONFIG", `${where}.${path} is required`, {
        field: `${cloudName}.${path}`,
      });
    return v;
  };
  const domain = (prefix: "user" | "project"): DomainRef => {
    const id = str(auth, `${prefix}_domain_id`) ?? str(auth, "domain_id");
    if (id) return { id };
    return { name: str(auth, `${prefix}_domain_name`) ?? str(auth, "domain_name") ?? "Default" };
  };
  const authUrl = need(auth, "auth_url", "auth.auth_url").replace(/\/+$/, "");
  const authType = str(entry, "auth_type") ?? "password";
  let resolved: CloudAuth;
  if (authType === "password" || authType === "v3password") {
    const projectId = str(auth, "project_id");
    const projectName = str(auth, "project_name");
    if (!projectId && !projectName) {
      throw new MediationError("CLOUD_CONFIG", `${where}.auth.project_name (or project_id) is required`, {
        field: `${cloudName}.auth.project_name`,
      });
    }
    resolved = {
      type: "password",
      authUrl,
      username: need(auth, "username", "auth.username"),
      password: need(auth, "password", "auth.password"),
      userDomain: domain("user"),
      project: {
        ...(projectId && { id: projectId }),
        ...(projectName && { name: projectName }),
        domain: domain("project"),
      },
    };
  } else if (authType === "v3applicationcredential") {
    const id = str(auth, "application_credential_id");
    const appName = str(auth, "application_credential_name");
    if (!id && !appName) {
      throw new MediationError("CLOUD_CONFIG", `${where}.auth.application_credential_id is required`, {
        field: `${cloudName}.auth.application_credential_id`,
      });
    }
    const username = str(auth, "username");
    resolved = {
      type: "v3applicationcredential",
      authUrl,
      ...(id && { id }),
      ...(appName && { name: appName }),
      ...(username && { username }),
      secret: need(auth, "application_credential_secret", "auth.application_credential_secret"),
      userDomain: domain("user"),
    };
  } else {
    throw new MediationError(
      "CLOUD_CONFIG",
      `${where}.auth_type '${authType}' is not supported (password, v3applicationcredential)`,
      {
        field: `${cloudName}.auth_type`,
      },
    );
  }
  const regions = Array.isArray(entry.regions) ? entry.regions.map((r) => (isTree(r) ? r.name : r)) : [];
  const region = str(entry, "region_name") ?? (typeof regions[0] === "string" ? regions[0] : undefined);
  const iface = str(entry, "interface") ?? "public";
  if (iface !== "public" && iface !== "internal" && iface !== "admin") {
    throw new MediationError("CLOUD_CONFIG", `${where}.interface must be public, internal or admin`, {
      field: `${cloudName}.interface`,
    });
  }
  const icsdn = isTree(entry.icsdn) ? entry.icsdn : {};
  const flavorMap: Record<string, string> = {};
  if (isTree(icsdn.flavor_map))
    for (const [k, v] of Object.entries(icsdn.flavor_map)) flavorMap[k] = String(v);
  const diskFormats = Array.isArray(icsdn.disk_formats) ? icsdn.disk_formats.map(String) : undefined;
  const endpointOverrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) {
    const m = /^(\w+)_endpoint_override$/.exec(k);
    if (m && typeof v === "string") endpointOverrides[m[1]!] = v.replace(/\/+$/, "");
  }
  return {
    name: cloudName,
    auth: resolved,
    region,
    interface: iface,
    flavorMap,
    diskFormats,
    externalNetwork: str(icsdn, "external_network"),
    endpointOverrides,
  };
}
